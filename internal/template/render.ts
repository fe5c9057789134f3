import Mustache from "mustache";
import type { Tokens } from "./compile.js";
import { MAX_OUTPUT_BYTES, type PartKind } from "./parts.js";

/** Thrown when a render exceeds its output or work budget. */
export class RenderLimitError extends Error {}

/**
 * Looks names up in own properties only, so {{constructor}}, {{toString}} or {{films.__proto__}} find
 * nothing even if a view object still had a prototype. Dotted names resolve their first segment up
 * the context stack, then descend (the mustache spec's rule).
 */
class SafeContext extends Mustache.Context {
  override push(view: unknown): Mustache.Context {
    return new SafeContext(view, this);
  }

  override lookup(name: string): unknown {
    if (name === ".") return this.view;
    const segs = name.split(".");
    let ctx: Mustache.Context | undefined = this;
    while (ctx) {
      const view = ctx.view as unknown;
      if (hasOwn(view, segs[0])) {
        let v = (view as Record<string, unknown>)[segs[0]];
        for (let i = 1; i < segs.length; i++) {
          if (!hasOwn(v, segs[i])) return undefined;
          v = (v as Record<string, unknown>)[segs[i]];
        }
        return v;
      }
      ctx = ctx.parent;
    }
    return undefined;
  }
}

function hasOwn(v: unknown, key: string): boolean {
  return v !== null && typeof v === "object" && Object.hasOwn(v, key);
}

interface Budget {
  tokens: number;
}

interface SafeRenderOptions extends Mustache.RenderOptions {
  budget: Budget;
  maxBytes: number;
}

/** Work cap per render: nested sections over the same big list would otherwise multiply. */
const MAX_TOKENS = 1_000_000;

class SafeWriter extends Mustache.Writer {
  override renderTokens(
    tokens: string[][],
    context: Mustache.Context,
    partials?: Mustache.PartialsOrLookupFn,
    originalTemplate?: string,
    config?: Mustache.RenderOptions,
  ): string {
    const opts = config as SafeRenderOptions;
    opts.budget.tokens += tokens.length;
    if (opts.budget.tokens > MAX_TOKENS) throw new RenderLimitError("template does too much work for this data");
    const out = super.renderTokens(tokens, context, undefined, originalTemplate, config);
    // A string's UTF-16 length never exceeds its UTF-8 byte length, so this early stop is never wrong.
    if (out.length > opts.maxBytes) throw new RenderLimitError(`rendered output exceeds ${opts.maxBytes} bytes`);
    return out;
  }

  override unescapedValue(token: string[], context: Mustache.Context): string {
    const v = context.lookup(token[1]);
    return v == null ? "" : display(v);
  }
}

/** How a value prints: scalars as strings, lists of scalars joined with ", ", objects as nothing. */
export function display(v: unknown): string {
  if (v == null) return "";
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.filter((x) => x !== null && typeof x !== "object").map(display).join(", ");
  return "";
}

const escapeHtml = (v: unknown): string => Mustache.escape(display(v));
const noEscape = (v: unknown): string => display(v);

const writer = new SafeWriter();

/**
 * Renders parsed tokens against a view. The view must come from safeCopy (null-prototype objects);
 * the lookup above is the second line of defence. "line" parts lose CR/LF (no header injection).
 */
export function renderTokens(tokens: Tokens, view: unknown, kind: PartKind, maxBytes = MAX_OUTPUT_BYTES): string {
  const config: SafeRenderOptions = {
    escape: kind === "html" ? escapeHtml : noEscape,
    budget: { tokens: 0 },
    maxBytes,
  };
  let out = writer.renderTokens(tokens as unknown as string[][], new SafeContext(view), undefined, undefined, config);
  // Unicode line separators too: some clients and log viewers break lines on them.
  if (kind === "line") out = out.replace(/[\r\n\u0085\u2028\u2029]+/g, " ").trim();
  // A UTF-16 unit is at most 3 bytes of UTF-8: a text short enough is not measured (which would
  // flatten the concatenated string early, a copy of every rendered body).
  if (out.length * 3 > maxBytes && Buffer.byteLength(out, "utf8") > maxBytes) throw new RenderLimitError(`rendered output exceeds ${maxBytes} bytes`);
  return out;
}
