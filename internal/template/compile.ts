import Mustache from "mustache";
import type { PartKind } from "./parts.js";
import { MAX_SOURCE_BYTES } from "./parts.js";
import { isDeclared, type VarNode } from "./schema.js";

export type Tokens = Mustache.TemplateSpans;

/** A problem in a template source, at a 1-based line and column. */
export interface SourceProblem {
  line: number;
  column: number;
  message: string;
}

export function formatProblem(field: string, p: SourceProblem): string {
  return p.line > 0 ? `${field}: line ${p.line}, column ${p.column}: ${p.message}` : `${field}: ${p.message}`;
}

export function lineColumn(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, source.length);
  for (let i = 0; i < end; i++) {
    if (source.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

function at(source: string, offset: number, message: string): SourceProblem {
  return { ...lineColumn(source, offset), message };
}

/**
 * Parses a mustache source. Mustache reports errors with an offset that is often the end of the
 * source; this points at the tag that is actually wrong (the unclosed "{{", the open section).
 */
export function parseSource(source: string): { tokens?: Tokens; problem?: SourceProblem } {
  if (Buffer.byteLength(source, "utf8") > MAX_SOURCE_BYTES) {
    return { problem: { line: 0, column: 0, message: `source exceeds ${MAX_SOURCE_BYTES} bytes` } };
  }
  try {
    // Writer.parse, not Mustache.parse: the global parser caches every source it ever saw.
    return { tokens: new Mustache.Writer().parse(source) as Tokens };
  } catch (err) {
    return { problem: syntaxProblem(source, err instanceof Error ? err.message : String(err)) };
  }
}

function syntaxProblem(source: string, msg: string): SourceProblem {
  let m = /^Unclosed tag at (\d+)$/.exec(msg);
  if (m) {
    const pos = Number(m[1]);
    let open = source.lastIndexOf("{{", Math.max(0, pos - 1));
    while (open > 0 && source[open - 1] === "{") open--; // the start of "{{{"
    return at(source, open >= 0 ? open : pos, "Unclosed tag");
  }
  m = /^Unclosed section "(.*)" at (\d+)$/.exec(msg);
  if (m) {
    const name = m[1];
    const pos = Number(m[2]);
    const re = new RegExp(`\\{\\{\\s*[#^]\\s*${escapeRe(name)}\\s*\\}\\}`, "g");
    let open = -1;
    for (let r = re.exec(source); r && r.index < pos; r = re.exec(source)) open = r.index;
    return at(source, open >= 0 ? open : pos, `Unclosed section "${name}"`);
  }
  m = /^Unopened section "(.*)" at (\d+)$/.exec(msg);
  if (m) return at(source, Number(m[2]), `Unopened section "${m[1]}"`);
  return { line: 0, column: 0, message: msg };
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export interface CheckOptions {
  /** How the part is rendered; "html" forbids unescaped output except for `unescaped`. */
  kind: PartKind;
  /** Names that may be output unescaped in html (a layout's content). */
  unescaped?: ReadonlySet<string>;
}

export interface UsedName {
  path: string;
  unescaped: boolean;
}

/**
 * Walks the parsed tokens, sections included, and reports every name that is not declared, resolving
 * names the way mustache looks them up: inside {{#films}}, "title" is films.title if declared, else the
 * top-level title. Partials and delimiter changes are refused (no includes, one syntax).
 */
export function checkTokens(
  source: string,
  tokens: Tokens,
  tree: VarNode,
  opts: CheckOptions,
): { problems: SourceProblem[]; used: UsedName[] } {
  const problems: SourceProblem[] = [];
  const used: UsedName[] = [];
  const walk = (list: Tokens, stack: string[]): void => {
    for (const tok of list) {
      const [type, value, start] = tok;
      switch (type) {
        case "name":
        case "&": {
          if (value === ".") {
            if (stack.length === 0) problems.push(at(source, start, `"." outside a section`));
            continue;
          }
          const path = resolveName(tree, value, stack);
          if (!path) problems.push(at(source, start, `undeclared variable "${value}"`));
          else {
            used.push({ path, unescaped: type === "&" });
            if (type === "&" && opts.kind === "html" && !opts.unescaped?.has(path)) {
              problems.push(at(source, start, `unescaped output of "${value}" is not allowed in html; use {{${value}}}`));
            }
          }
          continue;
        }
        case "#":
        case "^": {
          const path = resolveName(tree, value, stack);
          if (!path) problems.push(at(source, start, `undeclared variable "${value}"`));
          else used.push({ path, unescaped: false });
          const inner = (tok as unknown[])[4] as Tokens;
          // An inverted section renders only when the value is empty, so it does not enter it.
          walk(inner, type === "#" && path ? [...stack, path] : stack);
          continue;
        }
        case ">":
          problems.push(at(source, start, `partials are not supported ("${value}")`));
          continue;
        case "=":
          problems.push(at(source, start, "changing delimiters is not supported"));
          continue;
        default:
          continue;
      }
    }
  };
  walk(tokens, []);
  return { problems, used };
}

/** The declared path a name refers to inside the given section stack, innermost section first. */
export function resolveName(tree: VarNode, name: string, stack: readonly string[]): string | undefined {
  for (let i = stack.length; i >= 0; i--) {
    const candidate = i > 0 ? `${stack[i - 1]}.${name}` : name;
    if (isDeclared(tree, candidate)) return candidate;
  }
  return undefined;
}
