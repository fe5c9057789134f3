import { AsyncLocalStorage } from "node:async_hooks";
import { pino, type Logger, type LoggerOptions } from "pino";

export type { Logger };

// Fields that may carry secrets or message bodies are removed wherever they appear, so a careless
// `log.info({ req })` cannot leak them.
const REDACT = [
  "authorization",
  "*.authorization",
  "headers.authorization",
  "password",
  "*.password",
  "apiKey",
  "*.apiKey",
  "token",
  "*.token",
  "html",
  "*.html",
  "text",
  "*.text",
  "body",
  "*.body",
  "data",
  "*.data",
];

export interface LogOptions {
  level?: string;
  name?: string;
  /** Where to write; defaults to stdout. Tests pass a stream to inspect output. */
  destination?: NodeJS.WritableStream;
}

// Fields bound to an async flow rather than to a logger object: a worker binds a delivery's ids once,
// and every line logged while it is handled (channel, listeners, clients with loggers of their own)
// carries them. Module-level because async context is process-wide by nature.
const logContext = new AsyncLocalStorage<Record<string, unknown>>();

/** Runs fn so that every log line written inside it, by any logger, carries `fields`. */
export function withLogContext<T>(fields: Record<string, unknown>, fn: () => T): T {
  return logContext.run({ ...logContext.getStore(), ...fields }, fn);
}

function contextFields(_obj: object, _level: number, logger: Logger): object {
  const fields = logContext.getStore();
  if (!fields) return {};
  // A child logger that bound the same fields already prints them; do not print them twice.
  const bound = logger.bindings();
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(fields)) if (!(k in bound)) out[k] = v;
  return out;
}

export function createLogger(opts: LogOptions = {}): Logger {
  const options: LoggerOptions = {
    level: opts.level ?? "info",
    name: opts.name,
    base: { pid: process.pid },
    redact: { paths: REDACT, censor: "[redacted]" },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Addresses also hide in free text (an SMTP reply that echoes the recipient, a peer's error message,
    // a stack), so the finished line is masked as a whole.
    hooks: { streamWrite: maskAddresses },
    mixin: contextFields as LoggerOptions["mixin"],
  };
  return opts.destination
    ? pino(options, opts.destination as pino.DestinationStream)
    : pino(options);
}

// The lookbehind starts a match only where a run of local-part characters starts: linear time on long text.
const ADDRESS = /(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@(?=[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)/g;

/** Masks every email address inside a text: "rejected <john@example.com>" -> "rejected <j***@example.com>". */
export function maskAddresses(text: string): string {
  return text.includes("@") ? text.replace(ADDRESS, (local) => `${local[0]}***@`) : text;
}

/** Masks an address for info-level logs: "john.doe@example.com" -> "j***@example.com". */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf("@");
  if (at <= 0) return address.length > 2 ? `${address.slice(0, 1)}***` : "***";
  return `${address.slice(0, 1)}***${address.slice(at)}`;
}
