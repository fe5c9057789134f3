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

const LEVEL_METHODS = new Set(["trace", "debug", "info", "warn", "error", "fatal"]);
const noop = () => undefined;

/**
 * `log.child(bindings)`, made only when something is logged. A child with redaction serializes its
 * bindings when it is created; the worker makes one per delivery attempt and almost never logs on
 * the path that succeeds (the child was about 1% of a worker's CPU).
 */
export function lazyChild(log: Logger, bindings: Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const real = () => (child ??= log.child(bindings));
  return new Proxy({} as Logger, {
    get(_, key) {
      // A call at a level the parent does not write (the worker's debug line on every success) needs
      // no child: the child inherits that level until someone sets its own.
      if (!child && typeof key === "string" && LEVEL_METHODS.has(key) && !log.isLevelEnabled(key)) return noop;
      const target = real();
      const v = Reflect.get(target, key, target) as unknown;
      return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
    set(_, key, value) {
      return Reflect.set(real(), key, value);
    },
  });
}
