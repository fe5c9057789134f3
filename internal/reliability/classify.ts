import { Code, ConnectError } from "@connectrpc/connect";
import { isTransientDbError } from "../store/db.js";
import { BreakerOpenError } from "./breaker.js";

/**
 * What a failure means for the delivery that met it. Transient failures are retried with the
 * back-off schedule; permanent ones are recorded as `failed` with the reason and never retried.
 * `dependencyDown` says the failure is about the dependency as a whole (a relay that answers 421, a
 * user service that is UNAVAILABLE) rather than about this one message; only those trip breakers.
 */
export interface Classified {
  transient: boolean;
  reason: string;
  message: string;
  dependencyDown: boolean;
  /** The peer may have accepted the message although the call failed (SMTP connection lost). */
  uncertain?: boolean;
}

const NETWORK_CODES = new Set([
  "ECONNECTION",
  "ETIMEDOUT",
  "ESOCKET",
  "ECONNREFUSED",
  "ECONNRESET",
  "EDNS",
  "EPIPE",
  "ETLS",
  "EPROTOCOL",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

const NEVER_CONNECTED = new Set(["ECONNREFUSED", "EDNS", "EHOSTUNREACH", "ENETUNREACH"]);

const text = (err: unknown) =>
  ((err as { message?: string })?.message ?? String(err)).replace(/\s+/g, " ").slice(0, 300);

/**
 * SMTP: 5xx means this message to this address will never go through; 4xx and network trouble may
 * pass later. A 4xx at RCPT TO concerns one mailbox (greylisting, full), anything else the relay.
 */
export function classifySmtp(err: unknown): Classified {
  if (err instanceof BreakerOpenError) return { transient: true, reason: "circuit_open", message: err.message, dependencyDown: true };
  const e = err as { responseCode?: number; code?: string; command?: string };
  const msg = text(err);
  if (typeof e.responseCode === "number") {
    if (e.responseCode >= 500) {
      const reason = e.command === "RCPT TO" || e.code === "EENVELOPE" ? "recipient_rejected" : "smtp_rejected";
      return { transient: false, reason, message: `smtp ${e.responseCode}: ${msg}`, dependencyDown: false };
    }
    if (e.responseCode >= 400) {
      const down = e.responseCode === 421 || e.command !== "RCPT TO";
      return { transient: true, reason: "smtp_tempfail", message: `smtp ${e.responseCode}: ${msg}`, dependencyDown: down };
    }
  }
  if (e.code && NETWORK_CODES.has(e.code)) {
    // nodemailer reports a connection lost before MAIL FROM and one lost after the message body the
    // same way (ECONNECTION, command CONN): unless the connection was never made, the relay may have
    // taken the mail, so a resend is counted as uncertain.
    const uncertain = !NEVER_CONNECTED.has(e.code);
    return { transient: true, reason: "smtp_unreachable", message: `smtp ${e.code}: ${msg}`, dependencyDown: true, uncertain };
  }
  if (e.code === "EENVELOPE") return { transient: false, reason: "invalid_address", message: `smtp envelope: ${msg}`, dependencyDown: false };
  return { transient: true, reason: "smtp_error", message: `smtp: ${msg}`, dependencyDown: false };
}

// Answers that will be the same however often the call is repeated.
const PERMANENT_RPC = new Set([Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition, Code.OutOfRange, Code.Unimplemented]);
const DOWN_RPC = new Set([Code.Unavailable, Code.DeadlineExceeded]);

/** The user service: UNAVAILABLE and DEADLINE_EXCEEDED mean it is down or overloaded. */
export function classifyUsers(err: unknown): Classified {
  if (err instanceof BreakerOpenError) return { transient: true, reason: "circuit_open", message: err.message, dependencyDown: true };
  if (err instanceof ConnectError) {
    const message = `user service ${Code[err.code]}: ${err.rawMessage}`;
    if (PERMANENT_RPC.has(err.code)) return { transient: false, reason: "user_service_rejected", message, dependencyDown: false };
    return { transient: true, reason: "user_service", message, dependencyDown: DOWN_RPC.has(err.code) };
  }
  return { transient: true, reason: "user_service", message: `user service: ${text(err)}`, dependencyDown: true };
}

/** Database trouble (deadlock, lost connection) is retried; other SQL errors are bugs, also retried. */
export function classifyDb(err: unknown): Classified | undefined {
  if (!isTransientDbError(err)) return undefined;
  const code = (err as { code?: string }).code;
  return { transient: true, reason: "database", message: `database ${code}: ${text(err)}`, dependencyDown: false };
}

/** Anything else a delivery attempt may throw. Unknown errors are retried: losing mail is worse. */
export function classifyError(err: unknown): Classified {
  const t = err as { transient?: unknown; reason?: unknown };
  if (err instanceof BreakerOpenError) return { transient: true, reason: "circuit_open", message: err.message, dependencyDown: true };
  if (typeof t?.transient === "boolean" && typeof t.reason === "string") {
    return { transient: t.transient, reason: t.reason, message: text(err), dependencyDown: false };
  }
  return classifyDb(err) ?? { transient: true, reason: "error", message: text(err), dependencyDown: false };
}

const BROKER_CODES = new Set(["503", "408", "TIMEOUT", "CONNECTION_CLOSED", "CONNECTION_DRAINING", "CONNECTION_REFUSED", "CONNECTION_TIMEOUT", "DISCONNECT"]);

/**
 * Trouble of our own infrastructure (MariaDB unreachable or deadlocked, the broker restarting): the
 * message was not worked on, so it must not count against its attempts; a delivery should never die
 * because the database restarted.
 */
export function isInfrastructureError(err: unknown): boolean {
  if (classifyDb(err)) return true;
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" && BROKER_CODES.has(code);
}
