import { BUILTIN_VARIABLES, isBuiltinVariable, LAYOUT_VARIABLES } from "./builtins.js";
import { checkTokens, formatProblem, parseSource, type Tokens } from "./compile.js";
import { isValidLocale } from "./locale.js";
import { channelParts, isKnownChannel, knownChannels, LAYOUT_PARTS, partsOfChannels, type PartKind } from "./parts.js";
import { buildTree, checkDeclarations, type VarNode } from "./schema.js";
import { CATEGORIES, type VariableSpec } from "./types.js";

/** Template and layout input checks; every problem is "<field path>: <what>", for INVALID_ARGUMENT. */

export const KEY_RE = /^[a-z0-9_.-]{1,100}$/;
const MAX_LOCALES = 50;
/** All parts of all locales of one version together (each part alone is capped at 256 KiB). */
export const MAX_VERSION_BYTES = 4 * 1024 * 1024;

export interface ContentInput {
  locale: string;
  parts: Record<string, string>;
}

export interface VersionInput {
  category: string;
  channels: string[];
  defaultLocale: string;
  variables: VariableSpec[];
  contents: ContentInput[];
  /** A layout key was given (email only). */
  hasLayout: boolean;
}

export function checkKey(key: string, field = "key"): string[] {
  return KEY_RE.test(key) ? [] : [`${field}: must match [a-z0-9_.-]{1,100}`];
}

function checkLocales(contents: ContentInput[], defaultLocale: string, problems: string[]): void {
  if (!isValidLocale(defaultLocale)) problems.push(`default_locale: "${defaultLocale}" is not a locale like "en" or "ru"`);
  if (contents.length === 0) problems.push("contents: at least one locale is required");
  if (contents.length > MAX_LOCALES) problems.push(`contents: at most ${MAX_LOCALES} locales`);
  const seen = new Set<string>();
  contents.forEach((c, i) => {
    if (!isValidLocale(c.locale)) problems.push(`contents[${i}].locale: "${c.locale}" is not a locale like "en" or "ru"`);
    if (seen.has(c.locale)) problems.push(`contents[${i}].locale: "${c.locale}" appears twice`);
    seen.add(c.locale);
  });
  if (contents.length > 0 && !seen.has(defaultLocale)) {
    problems.push(`contents: no content for the default locale "${defaultLocale}"`);
  }
}

/** Parses one part and checks its names; returns the tokens when it parsed. */
function checkPart(
  field: string,
  source: string,
  kind: PartKind,
  tree: VarNode,
  problems: string[],
  unescaped?: ReadonlySet<string>,
): { tokens?: Tokens; used: { path: string; unescaped: boolean }[] } {
  const parsed = parseSource(source);
  if (!parsed.tokens) {
    problems.push(formatProblem(field, parsed.problem!));
    return { used: [] };
  }
  const r = checkTokens(source, parsed.tokens, tree, { kind, unescaped });
  for (const p of r.problems) problems.push(formatProblem(field, p));
  return { tokens: parsed.tokens, used: r.used };
}

/** Checks a whole version: settings, declarations, and every part of every locale. */
export function checkVersion(v: VersionInput): string[] {
  const problems: string[] = [];
  if (!(CATEGORIES as readonly string[]).includes(v.category)) {
    problems.push(`category: must be one of ${CATEGORIES.join(", ")}`);
  }
  if (v.channels.length === 0) problems.push("channels: at least one channel is required");
  const seenChannels = new Set<string>();
  v.channels.forEach((ch, i) => {
    if (!isKnownChannel(ch)) problems.push(`channels[${i}]: unknown channel "${ch}" (known: ${knownChannels().join(", ")})`);
    else if (seenChannels.has(ch)) problems.push(`channels[${i}]: "${ch}" appears twice`);
    seenChannels.add(ch);
  });
  if (v.hasLayout && !v.channels.some((ch) => channelParts(ch)?.some((p) => p.layout))) {
    problems.push("layout: only the email parts have a layout; this template has no email channel");
  }
  checkLocales(v.contents, v.defaultLocale, problems);
  const declProblems = checkDeclarations(v.variables, isBuiltinVariable);
  problems.push(...declProblems);
  if (declProblems.length > 0) return problems;

  const total = v.contents.reduce(
    (n, c) => n + Object.values(c.parts).reduce((m, src) => m + Buffer.byteLength(src, "utf8"), 0),
    0,
  );
  if (total > MAX_VERSION_BYTES) {
    problems.push(`contents: ${total} bytes in all; at most ${MAX_VERSION_BYTES}`);
    return problems;
  }
  const tree = buildTree([...BUILTIN_VARIABLES, ...v.variables]);
  const specs = partsOfChannels(v.channels.filter(isKnownChannel));
  const allowed = new Set(specs.map((p) => p.name));
  v.contents.forEach((c, i) => {
    for (const name of Object.keys(c.parts)) {
      if (!allowed.has(name)) {
        problems.push(`contents[${i}].parts.${name}: not a part of channels ${v.channels.join(", ")} (parts: ${[...allowed].join(", ")})`);
      }
    }
    for (const spec of specs) {
      const field = `contents[${i}].parts.${spec.name}`;
      const src = c.parts[spec.name];
      if (src === undefined || src.trim() === "") {
        problems.push(`${field}: required for channel ${v.channels.find((ch) => channelParts(ch)?.includes(spec))}`);
        continue;
      }
      checkPart(field, src, spec.kind, tree, problems);
    }
  });
  return problems;
}

export interface LayoutInput {
  key: string;
  defaultLocale: string;
  contents: ContentInput[];
}

/**
 * A layout sees the built-ins, {{subject}} and {{{content}}}, never a template's own variables (one
 * layout serves every template). Its html must output content unescaped, exactly where the rendered
 * (already escaped) template html goes.
 */
export function checkLayout(l: LayoutInput): string[] {
  const problems = checkKey(l.key);
  checkLocales(l.contents, l.defaultLocale, problems);
  const tree = buildTree([...BUILTIN_VARIABLES, ...LAYOUT_VARIABLES]);
  const allowed = new Set(LAYOUT_PARTS.map((p) => p.name));
  l.contents.forEach((c, i) => {
    for (const name of Object.keys(c.parts)) {
      if (!allowed.has(name)) problems.push(`contents[${i}].parts.${name}: a layout has only the parts html and text`);
    }
    for (const spec of LAYOUT_PARTS) {
      const field = `contents[${i}].parts.${spec.name}`;
      const src = c.parts[spec.name];
      if (src === undefined || src.trim() === "") {
        problems.push(`${field}: required`);
        continue;
      }
      const r = checkPart(field, src, spec.kind, tree, problems, new Set(["content"]));
      if (!r.tokens) continue;
      const content = r.used.filter((u) => u.path === "content");
      if (content.length === 0) problems.push(`${field}: must contain {{{content}}}`);
      else if (spec.kind === "html" && content.some((u) => !u.unescaped)) {
        problems.push(`${field}: use {{{content}}}, not {{content}} (the content is already escaped html)`);
      }
    }
  });
  return problems;
}
