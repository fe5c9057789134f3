import { describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { BreakerOpenError } from "./breaker.js";
import { classifyDb, classifyError, classifySmtp, classifyUsers } from "./classify.js";

const smtp = (responseCode: number | undefined, command: string, code = "EENVELOPE") =>
  Object.assign(new Error(`${responseCode ?? ""} test`), { responseCode, command, code });
const net = (code: string) => Object.assign(new Error(code), { code, command: "CONN" });
const db = (code: string) => Object.assign(new Error(code), { code });

// [case, error, classifier, transient, reason, dependency down]
const table: [string, unknown, (e: unknown) => { transient: boolean; reason: string; dependencyDown: boolean } | undefined, boolean, string, boolean][] = [
  ["SMTP 421 at MAIL FROM (relay closing)", smtp(421, "MAIL FROM"), classifySmtp, true, "smtp_tempfail", true],
  ["SMTP 451 at DATA", Object.assign(smtp(451, "DATA"), { code: "EMESSAGE" }), classifySmtp, true, "smtp_tempfail", true],
  ["SMTP 450 at RCPT TO (one mailbox)", smtp(450, "RCPT TO"), classifySmtp, true, "smtp_tempfail", false],
  ["SMTP 550 at RCPT TO (no such user)", smtp(550, "RCPT TO"), classifySmtp, false, "recipient_rejected", false],
  ["SMTP 554 at DATA (content refused)", Object.assign(smtp(554, "DATA"), { code: "EMESSAGE" }), classifySmtp, false, "smtp_rejected", false],
  ["SMTP envelope without a code (invalid address)", { code: "EENVELOPE", message: "No recipients defined" }, classifySmtp, false, "invalid_address", false],
  ["connection reset", net("ECONNRESET"), classifySmtp, true, "smtp_unreachable", true],
  ["connection refused", net("ECONNREFUSED"), classifySmtp, true, "smtp_unreachable", true],
  ["SMTP timeout", net("ETIMEDOUT"), classifySmtp, true, "smtp_unreachable", true],
  ["SMTP relay breaker open", new BreakerOpenError("smtp:primary"), classifySmtp, true, "circuit_open", true],
  ["user service UNAVAILABLE", new ConnectError("down", Code.Unavailable), classifyUsers, true, "user_service", true],
  ["user service DEADLINE_EXCEEDED", new ConnectError("slow", Code.DeadlineExceeded), classifyUsers, true, "user_service", true],
  ["user service RESOURCE_EXHAUSTED", new ConnectError("busy", Code.ResourceExhausted), classifyUsers, true, "user_service", false],
  ["user service NOT_FOUND", new ConnectError("no", Code.NotFound), classifyUsers, false, "user_service_rejected", false],
  ["user service INVALID_ARGUMENT", new ConnectError("bad", Code.InvalidArgument), classifyUsers, false, "user_service_rejected", false],
  ["MariaDB deadlock", db("ER_LOCK_DEADLOCK"), classifyDb, true, "database", false],
  ["MariaDB lost connection", db("PROTOCOL_CONNECTION_LOST"), classifyDb, true, "database", false],
  ["MariaDB server shutdown", db("ER_SERVER_SHUTDOWN"), classifyDb, true, "database", false],
  ["an unknown error is retried", new Error("surprise"), classifyError, true, "error", false],
  ["a classified error keeps its class", Object.assign(new Error("gone"), { transient: false, reason: "template_error" }), classifyError, false, "template_error", false],
];

describe("failure classification: transient is retried with back-off, permanent is failed at once", () => {
  for (const [name, err, classify, transient, reason, down] of table) {
    it(name, () => {
      const c = classify(err);
      expect(c).toBeDefined();
      expect({ transient: c!.transient, reason: c!.reason, dependencyDown: c!.dependencyDown }).toEqual({ transient, reason, dependencyDown: down });
    });
  }

  it("a lost SMTP connection may have delivered the mail; a refused one cannot have", () => {
    expect(classifySmtp(net("ECONNECTION")).uncertain).toBe(true);
    expect(classifySmtp(net("ECONNREFUSED")).uncertain).toBe(false);
    expect(classifySmtp(smtp(421, "MAIL FROM")).uncertain).toBeUndefined();
  });

  it("a SQL error that is not about the connection is not classified as database trouble", () => {
    expect(classifyDb(db("ER_PARSE_ERROR"))).toBeUndefined();
  });
});
