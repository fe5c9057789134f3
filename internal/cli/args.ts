import { readFile } from "node:fs/promises";
import { UsageError } from "./errors.js";

/** Values from node:util parseArgs, before narrowing. */
export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** "500ms", "10s", "2m", "1h" or a bare number of seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid duration ${JSON.stringify(text)} (e.g. 500ms, 10s, 2m)`);
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? "s"] ?? 1000;
  const ms = Math.round(n * unit);
  if (ms <= 0) throw new UsageError("duration must be positive");
  return ms;
}

/**
 * Request input like grpcurl's -d: literal JSON, "@path" for a file, "-" for stdin. Missing means "{}".
 */
export async function readInput(arg: string | undefined, stdin: NodeJS.ReadableStream): Promise<string> {
  if (arg === undefined || arg === "") return "{}";
  if (arg === "-") {
    const chunks: Buffer[] = [];
    for await (const c of stdin) chunks.push(typeof c === "string" ? Buffer.from(c) : c);
    return Buffer.concat(chunks).toString("utf8");
  }
  if (arg.startsWith("@")) {
    try {
      return await readFile(arg.slice(1), "utf8");
    } catch (err) {
      throw new UsageError(`cannot read ${arg.slice(1)}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return arg;
}

/** Parses JSON input for flags such as --data, with a usage error that names the flag. */
export function parseJsonInput(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON: ${(err as Error).message}`);
  }
}

export function optString(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function optStrings(values: OptionValues, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === "string");
}

export function optBool(values: OptionValues, name: string): boolean {
  return values[name] === true;
}

export function optInt(values: OptionValues, name: string, range: { min: number; max: number }): number | undefined {
  const v = optString(values, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < range.min || n > range.max) {
    throw new UsageError(`--${name} must be an integer from ${range.min} to ${range.max}`);
  }
  return n;
}

/** An ISO time, "+<duration>" from now or "-<duration>" ago (e.g. -1h). */
export function parseInstant(text: string, flag: string): Date {
  if (text.startsWith("+") || text.startsWith("-")) {
    const ms = parseDuration(text.slice(1));
    return new Date(Date.now() + (text[0] === "+" ? ms : -ms));
  }
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new UsageError(`${flag}: invalid time ${JSON.stringify(text)} (ISO 8601, +10m or -1h)`);
  return d;
}
