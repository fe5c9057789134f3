import { parseArgs, type ParseArgsConfig } from "node:util";
import { optBool, optString, parseDuration } from "./args.js";
import { commands } from "./commands/index.js";
import { createCliContext, type CliIo, type Command } from "./context.js";
import { EXIT, UsageError, explainError } from "./errors.js";

export const DEFAULT_ADDR = "http://127.0.0.1:50051";

/** What cmd/notifyctl/main.ts reads from the environment. */
export interface CliEnv {
  /** NOTIFY_ADDR */
  addr?: string;
  /** NOTIFY_API_KEY */
  apiKey?: string;
}

const GLOBAL_OPTIONS = {
  addr: { type: "string" },
  "api-key": { type: "string" },
  json: { type: "boolean" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
} satisfies NonNullable<ParseArgsConfig["options"]>;

/** Runs one notifyctl invocation and returns its exit code; never throws. */
export async function runCli(argv: string[], env: CliEnv, io: CliIo): Promise<number> {
  let addr = env.addr || DEFAULT_ADDR;
  try {
    // First pass only finds the command; its own flags are unknown here, hence not strict.
    const first = parseArgs({ args: argv, options: GLOBAL_OPTIONS, strict: false, allowPositionals: true });
    const name = first.positionals[0];
    if (name === undefined || name === "help") {
      const topic = name === "help" ? first.positionals[1] : undefined;
      if (name === undefined && !first.values.help) throw new UsageError("no command given", "notifyctl <command> [flags]; notifyctl help");
      io.stdout.write(topic ? commandHelp(findCommand(topic)) : generalHelp());
      return EXIT.ok;
    }
    const command = findCommand(name);
    const { values, positionals } = strictParse(argv, command);
    if (optBool(values, "help")) {
      io.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    addr = normalizeAddr(optString(values, "addr") ?? addr);
    const timeout = optString(values, "timeout");
    const ctx = createCliContext(
      {
        addr,
        apiKey: optString(values, "api-key") ?? (env.apiKey || undefined),
        json: optBool(values, "json"),
        timeoutMs: timeout === undefined ? undefined : parseDuration(timeout),
      },
      io,
    );
    await command.run(ctx, positionals.slice(1), values);
    return EXIT.ok;
  } catch (err) {
    const { exitCode, lines } = explainError(err, addr);
    io.stderr.write(`${lines.join("\n")}\n`);
    return exitCode;
  }
}

function findCommand(name: string): Command {
  const command = commands.find((c) => c.name === name);
  if (!command) throw new UsageError(`unknown command ${JSON.stringify(name)}`, "notifyctl help");
  return command;
}

function strictParse(argv: string[], command: Command) {
  try {
    return parseArgs({ args: argv, options: { ...GLOBAL_OPTIONS, ...command.options }, strict: true, allowPositionals: true });
  } catch (err) {
    // parseArgs reports unknown flags and missing values as TypeErrors with ERR_PARSE_ARGS_* codes.
    throw new UsageError((err as Error).message, `notifyctl ${command.name} ${command.usage}`.trimEnd());
  }
}

/** Accepts "host:port" as well as a URL, since operators type what grpcurl takes. */
function normalizeAddr(addr: string): string {
  const url = /^[a-z]+:\/\//i.test(addr) ? addr : `http://${addr}`;
  try {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error("scheme");
  } catch {
    throw new UsageError(`invalid --addr ${JSON.stringify(addr)} (expected e.g. http://127.0.0.1:50051)`);
  }
  return url.replace(/\/+$/, "");
}

function generalHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    "notifyctl: operate the cinema notification platform over gRPC.",
    "",
    "usage: notifyctl [global flags] <command> [args]",
    "",
    "commands:",
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "global flags:",
    `  --addr URL       server address (env NOTIFY_ADDR, default ${DEFAULT_ADDR})`,
    "  --api-key KEY    API key sent as 'authorization: Bearer KEY' (env NOTIFY_API_KEY)",
    "  --json           machine output: one JSON document per line",
    "  --timeout D      deadline per call, e.g. 5s, 500ms (default 30s; streams: none)",
    "  -h, --help       help; 'notifyctl help <command>' for one command",
    "",
    "exit codes: 0 ok, 1 the server returned an error, 2 usage error, 3 server unreachable",
    "",
  ].join("\n");
}

function commandHelp(c: Command): string {
  const flags = Object.entries(c.options ?? {}).map(
    ([name, o]) => `  --${name}${o.type === "string" ? " VALUE" : ""}${o.multiple ? " (repeatable)" : ""}`,
  );
  return [`usage: notifyctl ${c.name} ${c.usage}`.trimEnd(), "", c.summary, ...(flags.length ? ["", "flags:", ...flags] : []), ""].join("\n");
}
