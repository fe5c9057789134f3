import { isEnrichmentVariable } from "./builtins.js";
import { VARIABLE_TYPES, type VariableSpec, type VariableType } from "./types.js";

/**
 * The variable schema as a tree: "films.title" is the child title of films. A node without a spec is
 * implied by its children (an object). A list or object node without children is opaque: any field
 * below it is allowed and not checked.
 */
export interface VarNode {
  spec?: VariableSpec;
  children: Map<string, VarNode>;
}

/** Names and keys that could reach Object.prototype; never declared, never copied from data. */
const FORBIDDEN_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/;
const MAX_DEPTH = 16;

export function isValidVariableName(name: string): boolean {
  return NAME_RE.test(name) && name.length <= 200 && !name.split(".").some((s) => FORBIDDEN_SEGMENTS.has(s));
}

export function buildTree(specs: readonly VariableSpec[]): VarNode {
  const root: VarNode = { children: new Map() };
  for (const spec of specs) {
    let node = root;
    for (const seg of spec.name.split(".")) {
      let next = node.children.get(seg);
      if (!next) {
        next = { children: new Map() };
        node.children.set(seg, next);
      }
      node = next;
    }
    node.spec = spec;
  }
  return root;
}

function isOpaque(node: VarNode): boolean {
  return node.children.size === 0 && (node.spec?.type === "object" || node.spec?.type === "list");
}

/** True when a full dotted path is declared, directly or below an opaque object/list. */
export function isDeclared(tree: VarNode, path: string): boolean {
  let node = tree;
  for (const seg of path.split(".")) {
    if (FORBIDDEN_SEGMENTS.has(seg)) return false;
    const next = node.children.get(seg);
    if (!next) return node !== tree && isOpaque(node);
    node = next;
  }
  return true;
}

/** The spec at a path, if declared exactly. */
export function specAt(tree: VarNode, path: string): VariableSpec | undefined {
  let node: VarNode | undefined = tree;
  for (const seg of path.split(".")) node = node?.children.get(seg);
  return node?.spec;
}

export function isSafeUrl(v: unknown): boolean {
  if (typeof v !== "string" || v.length > 2048) return false;
  // Control characters and whitespace let "java\tscript:" or "https:\n" style tricks past naive checks.
  if (/[\u0000-\u0020\u007f]/.test(v)) return false;
  if (!/^https?:\/\//i.test(v)) return false;
  try {
    const u = new URL(v);
    return (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "";
  } catch {
    return false;
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "list";
  if (isPlainObject(v)) return "object";
  return typeof v;
}

/** Checks one value against a type; returns the problem or undefined. */
export function typeProblem(type: VariableType, v: unknown): string | undefined {
  switch (type) {
    case "string":
      return typeof v === "string" ? undefined : `expected string, got ${typeName(v)}`;
    case "number":
      return typeof v === "number" && Number.isFinite(v) ? undefined : `expected number, got ${typeName(v)}`;
    case "boolean":
      return typeof v === "boolean" ? undefined : `expected boolean, got ${typeName(v)}`;
    case "url":
      if (typeof v !== "string") return `expected url, got ${typeName(v)}`;
      return isSafeUrl(v) ? undefined : "expected an absolute http(s) URL";
    case "list":
      return Array.isArray(v) ? undefined : `expected list, got ${typeName(v)}`;
    case "object":
      return isPlainObject(v) ? undefined : `expected object, got ${typeName(v)}`;
  }
}

export interface DataCheckOptions {
  /** Skip enrichment variables (user.*): Send data does not carry them, the worker fills them. */
  skipEnrichment?: boolean;
}

/**
 * Checks data against the schema: required variables present (not null), types right, list items and
 * object fields checked against the children. Returns problems as "<path>: <what>", paths starting
 * with prefix ("data.films[1].title: required variable missing"). Undeclared keys are ignored.
 */
export function checkData(
  tree: VarNode,
  data: Record<string, unknown>,
  prefix: string,
  opts: DataCheckOptions = {},
): string[] {
  const problems: string[] = [];
  checkChildren(tree, data, prefix, "", problems, opts);
  return problems;
}

function checkChildren(
  node: VarNode,
  obj: Record<string, unknown>,
  path: string,
  name: string,
  problems: string[],
  opts: DataCheckOptions,
): void {
  for (const [seg, child] of node.children) {
    const fullName = name ? `${name}.${seg}` : seg;
    if (opts.skipEnrichment && isEnrichmentVariable(fullName)) continue;
    const at = path ? `${path}.${seg}` : seg;
    const v = Object.hasOwn(obj, seg) ? obj[seg] : undefined;
    if (v === undefined || v === null) {
      if (child.spec?.required) problems.push(`${at}: required variable missing`);
      else if (!child.spec) checkChildren(child, {}, at, fullName, problems, opts);
      continue;
    }
    const type = child.spec?.type ?? "object";
    const p = typeProblem(type, v);
    if (p) {
      problems.push(`${at}: ${p}`);
      continue;
    }
    if (child.children.size === 0) continue;
    if (type === "list") {
      (v as unknown[]).forEach((item, i) => {
        if (isPlainObject(item)) checkChildren(child, item, `${at}[${i}]`, fullName, problems, opts);
        else problems.push(`${at}[${i}]: expected object, got ${typeName(item)}`);
      });
    } else if (type === "object") {
      checkChildren(child, v as Record<string, unknown>, at, fullName, problems, opts);
    }
  }
}

/** Checks declarations (Create/Update); problems are "variables[i].<field>: <what>". */
export function checkDeclarations(specs: readonly VariableSpec[], isReserved: (name: string) => boolean): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  specs.forEach((s, i) => {
    const at = `variables[${i}]`;
    if (!isValidVariableName(s.name)) {
      problems.push(`${at}.name: "${s.name}" is not a valid variable name (letters, digits, _ and dots)`);
      return;
    }
    if (isReserved(s.name)) problems.push(`${at}.name: "${s.name}" is built in and cannot be redeclared`);
    if (seen.has(s.name)) problems.push(`${at}.name: "${s.name}" is declared twice`);
    seen.add(s.name);
    if (!VARIABLE_TYPES.includes(s.type)) problems.push(`${at}.type: must be one of ${VARIABLE_TYPES.join(", ")}`);
    if ((s.description ?? "").length > 1000) problems.push(`${at}.description: longer than 1000 characters`);
  });
  // A child ("films.title") needs a parent that can hold fields: an object or a list of objects.
  for (const [i, s] of specs.entries()) {
    const dot = s.name.lastIndexOf(".");
    if (dot < 0) continue;
    const parent = specs.find((p) => p.name === s.name.slice(0, dot));
    if (parent && parent.type !== "object" && parent.type !== "list") {
      problems.push(`variables[${i}].name: parent "${parent.name}" is a ${parent.type}, not an object or list`);
    }
  }
  if (problems.length > 0) return problems;
  // Samples are checked like Send data, against the same tree, so Preview with samples renders cleanly.
  const tree = buildTree(specs);
  specs.forEach((s, i) => {
    if (s.sample === undefined || s.sample === null) return;
    const p = typeProblem(s.type, s.sample);
    if (p) problems.push(`variables[${i}].sample: ${p}`);
    else if (s.type === "list" || s.type === "object") {
      const node = descend(tree, s.name);
      const sub = checkData(node ?? { children: new Map() }, { [lastSeg(s.name)]: s.sample }, `variables[${i}].sample`);
      problems.push(...sub.map((m) => m.replace(`variables[${i}].sample.${lastSeg(s.name)}`, `variables[${i}].sample`)));
    }
  });
  return problems;
}

function lastSeg(name: string): string {
  return name.slice(name.lastIndexOf(".") + 1);
}

function descend(tree: VarNode, name: string): VarNode | undefined {
  const segs = name.split(".");
  let node: VarNode | undefined = tree;
  for (const seg of segs.slice(0, -1)) node = node?.children.get(seg);
  // A tree whose only child is the variable itself, so checkData can check the sample as that variable.
  const self = node?.children.get(lastSeg(name));
  return self ? { children: new Map([[lastSeg(name), self]]) } : undefined;
}

/** Sample data from the declared samples; a child's sample fills its parent unless the parent has one. */
export function sampleData(specs: readonly VariableSpec[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const sorted = [...specs].sort((a, b) => a.name.split(".").length - b.name.split(".").length);
  for (const s of sorted) {
    if (s.sample === undefined || s.sample === null) continue;
    const segs = s.name.split(".");
    let obj: Record<string, unknown> | undefined = out;
    for (const seg of segs.slice(0, -1)) {
      const next: unknown = obj[seg];
      if (next === undefined) obj[seg] = {};
      else if (!isPlainObject(next)) {
        obj = undefined;
        break;
      }
      obj = obj[seg] as Record<string, unknown>;
    }
    if (obj && obj[segs[segs.length - 1]] === undefined) obj[segs[segs.length - 1]] = s.sample;
  }
  return out;
}

/**
 * A copy of data safe to hand to mustache: objects without a prototype (so no lookup can reach
 * Object.prototype), no __proto__/constructor/prototype keys, no functions, depth-limited; values at
 * paths declared as url that are not http(s) become "" so a section around them disappears.
 */
export function safeCopy(tree: VarNode, v: unknown, depth = 0): unknown {
  if (depth > MAX_DEPTH) return undefined;
  if (v === null || typeof v !== "object") {
    if (typeof v === "function" || typeof v === "symbol") return undefined;
    if (typeof v === "bigint") return v.toString();
    if (tree.spec?.type === "url" && !isSafeUrl(v)) return "";
    return v;
  }
  if (tree.spec?.type === "url") return "";
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? "" : v.toISOString();
  if (Array.isArray(v)) return v.map((item) => safeCopy(tree, item, depth + 1)).filter((x) => x !== undefined);
  if (v instanceof Map || v instanceof Set || ArrayBuffer.isView(v)) return undefined;
  // Only own enumerable keys are copied, whatever the source's prototype was.
  const out = Object.create(null) as Record<string, unknown>;
  for (const [k, val] of Object.entries(v)) {
    if (FORBIDDEN_SEGMENTS.has(k)) continue;
    const copied = safeCopy(tree.children.get(k) ?? EMPTY, val, depth + 1);
    if (copied !== undefined) out[k] = copied;
  }
  return out;
}

const EMPTY: VarNode = { children: new Map() };
