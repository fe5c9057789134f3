import { Code, ConnectError } from "@connectrpc/connect";
import { BUILTIN_VARIABLES, LAYOUT_VARIABLES } from "./builtins.js";
import { checkTokens, formatProblem, parseSource, type Tokens } from "./compile.js";
import { pickLocale } from "./locale.js";
import { channelParts, LAYOUT_PARTS } from "./parts.js";
import { RenderLimitError, renderTokens } from "./render.js";
import { buildTree, safeCopy, type VarNode } from "./schema.js";
import type { RenderedMessage, VariableSpec } from "./types.js";

/**
 * One version in one locale, parsed and ready to render many times: the template's parts, the pinned
 * layout's parts in the best matching layout locale, and the variable tree used to sanitise data.
 */
export interface CompiledLocale {
  key: string;
  version: number;
  locale: string;
  channels: readonly string[];
  parts: Map<string, Tokens>;
  layout?: Map<string, Tokens>;
  tree: VarNode;
  /** Names of the parts that read the user's data (`user.*`), themselves or through their layout. */
  userParts: ReadonlySet<string>;
}

export interface LayoutSource {
  defaultLocale: string;
  contents: Record<string, Record<string, string>>;
}

/**
 * Versions in the store were validated when created, so a parse failure there means a corrupted row;
 * drafts (Preview) pass onError to collect the failure and render the rest.
 */
function parseOr(source: string, where: string, onError?: (where: string, message: string) => void): Tokens | undefined {
  const r = parseSource(source);
  if (r.tokens) return r.tokens;
  const msg = r.problem ? formatProblem(where, r.problem) : `${where}: cannot parse`;
  if (onError) return onError(where, msg), undefined;
  throw new ConnectError(msg, Code.Internal);
}

export function compileLocale(opts: {
  key: string;
  version: number;
  locale: string;
  channels: readonly string[];
  variables: readonly VariableSpec[];
  parts: Record<string, string>;
  layout?: LayoutSource;
  onError?: (where: string, message: string) => void;
}): CompiledLocale {
  const parts = new Map<string, Tokens>();
  for (const [name, src] of Object.entries(opts.parts)) {
    const tokens = parseOr(src, `template "${opts.key}" v${opts.version} ${opts.locale}.${name}`, opts.onError);
    if (tokens) parts.set(name, tokens);
  }
  let layout: Map<string, Tokens> | undefined;
  if (opts.layout) {
    const lc = pickLocale(opts.locale, Object.keys(opts.layout.contents), opts.layout.defaultLocale);
    const src = opts.layout.contents[lc] ?? {};
    layout = new Map();
    for (const p of LAYOUT_PARTS) {
      if (src[p.name] === undefined) continue;
      const tokens = parseOr(src[p.name], `layout ${lc}.${p.name}`, opts.onError);
      if (tokens) layout.set(p.name, tokens);
    }
  }
  const tree = buildTree([...BUILTIN_VARIABLES, ...LAYOUT_VARIABLES, ...opts.variables]);
  const readsUser = (tokens: Tokens | undefined) =>
    tokens !== undefined && checkTokens("", tokens, tree, { kind: "text" }).used.some((u) => u.path === "user" || u.path.startsWith("user."));
  const userParts = new Set<string>();
  for (const name of new Set([...parts.keys(), ...(layout?.keys() ?? [])])) {
    if (readsUser(parts.get(name)) || readsUser(layout?.get(name))) userParts.add(name);
  }
  return { key: opts.key, version: opts.version, locale: opts.locale, channels: opts.channels, parts, layout, tree, userParts };
}

/**
 * Renders one channel's parts. Data is copied into null-prototype objects first (URL variables that
 * are not http(s) become empty); parts marked `layout` are then wrapped in the layout, which sees the
 * same data plus {{{content}}} and {{subject}}.
 */
export function renderChannel(c: CompiledLocale, channel: string, data: Record<string, unknown>): RenderedMessage {
  const specs = channelParts(channel);
  if (!specs || !c.channels.includes(channel)) {
    throw new ConnectError(
      `channel: template "${c.key}" v${c.version} has no content for channel "${channel}"`,
      Code.InvalidArgument,
    );
  }
  const view = safeCopy(c.tree, data ?? {}) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const spec of specs) {
    const tokens = c.parts.get(spec.name);
    if (!tokens) continue;
    try {
      let rendered = renderTokens(tokens, view, spec.kind);
      const layoutTokens = spec.layout ? c.layout?.get(spec.name) : undefined;
      if (layoutTokens) {
        const layoutView = Object.assign(Object.create(null) as Record<string, unknown>, view, {
          content: rendered,
          subject: out.subject ?? out.title ?? "",
        });
        rendered = renderTokens(layoutTokens, layoutView, spec.kind);
      }
      out[spec.name] = rendered;
    } catch (err) {
      if (err instanceof RenderLimitError) throw new ConnectError(`parts.${spec.name}: ${err.message}`, Code.InvalidArgument);
      throw err;
    }
  }
  return { locale: c.locale, parts: out };
}
