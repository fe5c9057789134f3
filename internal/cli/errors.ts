import { ConnectError } from "@connectrpc/connect";
import { codeToString } from "@connectrpc/connect/protocol-connect";

/** Exit codes scripts can rely on. */
export const EXIT = {
  ok: 0,
  /** The server answered with an error (or a check failed). */
  rpc: 1,
  /** Bad flags, arguments or input; nothing was sent. */
  usage: 2,
  /** The server could not be reached at all. */
  unreachable: 3,
} as const;

/** A mistake in the command line or the input; printed with a hint and exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly usage?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

/** A failure that is neither an RPC status nor a usage mistake, e.g. a health check that is not SERVING. */
export class CommandFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CommandFailed";
  }
}

const UNREACHABLE: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  ECONNRESET: "connection reset",
  // What an HTTP/1-only listener (or anything not speaking h2c) produces.
  ERR_HTTP2_ERROR: "not an HTTP/2 (h2c) gRPC server",
};

/** Maps any error to the line printed on stderr and the exit code. */
export function explainError(err: unknown, addr: string): { exitCode: number; lines: string[] } {
  if (err instanceof UsageError) {
    const lines = [`error: ${err.message}`];
    if (err.usage) lines.push(`usage: ${err.usage}`);
    return { exitCode: EXIT.usage, lines };
  }
  if (err instanceof CommandFailed) return { exitCode: EXIT.rpc, lines: [`error: ${err.message}`] };
  const sysCode = findSystemCode(err);
  if (sysCode && UNREACHABLE[sysCode]) {
    return { exitCode: EXIT.unreachable, lines: [`error: cannot reach ${addr}: ${UNREACHABLE[sysCode]}`] };
  }
  if (err instanceof ConnectError) {
    return { exitCode: EXIT.rpc, lines: [`error: ${codeToString(err.code)}: ${err.rawMessage}`] };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { exitCode: EXIT.rpc, lines: [`error: ${message}`] };
}

function findSystemCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}
