import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

/**
 * Rule conditions: a map from event field (dotted path into nested objects, e.g. "data.plan") to
 * the value it must equal, or to a list of values one of which it must equal. All entries must hold.
 * Nothing is evaluated: it is data compared with data, so an editable rule cannot run code.
 */
export type Condition = Record<string, JsonValue>;

const PATH = /^[A-Za-z_][A-Za-z0-9_]{0,63}(?:\.[A-Za-z_][A-Za-z0-9_]{0,63}){0,7}$/;
const MAX_ENTRIES = 20;
const MAX_VALUES = 100;

const isScalar = (v: JsonValue) => v === null || ["string", "number", "boolean"].includes(typeof v);

/** Returns the problems of a condition as "condition.<path>: ..." strings; empty when valid. */
export function checkCondition(c: JsonObject | undefined, field = "condition"): string[] {
  if (!c) return [];
  const problems: string[] = [];
  const entries = Object.entries(c);
  if (entries.length > MAX_ENTRIES) problems.push(`${field}: at most ${MAX_ENTRIES} entries`);
  for (const [path, want] of entries) {
    const at = `${field}.${path}`;
    if (!PATH.test(path)) problems.push(`${at}: not a field path (letters, digits, _ and dots)`);
    else if (Array.isArray(want)) {
      if (want.length === 0 || want.length > MAX_VALUES) problems.push(`${at}: a list needs 1..${MAX_VALUES} values`);
      else if (!want.every(isScalar)) problems.push(`${at}: list values must be strings, numbers, booleans or null`);
    } else if (!isScalar(want)) problems.push(`${at}: must be a string, number, boolean, null or a list of them`);
  }
  return problems;
}

function lookup(obj: JsonObject, path: string): JsonValue | undefined {
  let cur: JsonValue | undefined = obj;
  for (const seg of path.split(".")) {
    if (cur === null || typeof cur !== "object" || Array.isArray(cur) || !Object.hasOwn(cur, seg)) return undefined;
    cur = (cur as JsonObject)[seg];
  }
  return cur;
}

// Proto3 JSON leaves out fields at their default, so an absent field compares as its zero value.
const same = (have: JsonValue | undefined, want: JsonValue) =>
  have === undefined ? want === null || want === "" || want === 0 || want === false : have === want;

export function matches(c: Condition | undefined, fields: JsonObject): boolean {
  if (!c) return true;
  return Object.entries(c).every(([path, want]) => {
    const have = lookup(fields, path);
    return Array.isArray(want) ? want.some((w) => same(have, w)) : same(have, want);
  });
}
