import type { ParseArgsConfig } from "node:util";
import { toJsonString, type DescMessage, type DescService, type MessageShape, type Registry } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { createConnectClient } from "../rpc/connect-client.js";
import type { OptionValues } from "./args.js";
import { createReflectionClient, type ReflectionClient } from "./reflection-client.js";

export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  stdin: NodeJS.ReadableStream;
}

export interface CliSettings {
  /** Base URL of the server, e.g. http://127.0.0.1:50051. */
  addr: string;
  apiKey?: string;
  /** Machine output: one compact JSON document per line. */
  json: boolean;
  /** --timeout when given; unary calls fall back to a default, streams then run until they end. */
  timeoutMs?: number;
}

export interface CliContext extends CliSettings {
  io: CliIo;
  /** A typed gRPC client (Connect's gRPC transport over h2c) with the API key attached. */
  client<S extends DescService>(service: S): Client<S>;
  /** Options for unary calls. */
  unary: { timeoutMs: number };
  /** Options for streaming calls. */
  stream: { timeoutMs?: number };
  reflection(): ReflectionClient;
  write(text: string): void;
  /** Prints a message as one line of canonical proto JSON. */
  writeJson<D extends DescMessage>(schema: D, message: MessageShape<D>, registry?: Registry): void;
}

/** Each command is one module in internal/cli/commands/, registered in commands/index.ts. */
export interface Command {
  name: string;
  /** What follows the command name in the usage line, e.g. "<Service/Method> [json|@file|-]". */
  usage: string;
  summary: string;
  options?: NonNullable<ParseArgsConfig["options"]>;
  run(ctx: CliContext, positionals: string[], values: OptionValues): Promise<void>;
}

const DEFAULT_UNARY_TIMEOUT_MS = 30_000;

export function createCliContext(settings: CliSettings, io: CliIo): CliContext {
  const base = { baseUrl: settings.addr, apiKey: settings.apiKey };
  let reflection: ReflectionClient | undefined;
  return {
    ...settings,
    io,
    client: (service) => createConnectClient(service, base),
    unary: { timeoutMs: settings.timeoutMs ?? DEFAULT_UNARY_TIMEOUT_MS },
    stream: { timeoutMs: settings.timeoutMs },
    reflection: () =>
      (reflection ??= createReflectionClient({ ...base, timeoutMs: settings.timeoutMs ?? DEFAULT_UNARY_TIMEOUT_MS })),
    write: (text) => io.stdout.write(text),
    writeJson: (schema, message, registry) => io.stdout.write(`${toJsonString(schema, message, { registry })}\n`),
  };
}
