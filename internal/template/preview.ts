import { ConnectError } from "@connectrpc/connect";
import type { JsonObject } from "@bufbuild/protobuf";
import { PLATFORM_VARIABLES, USER_VARIABLES, BUILTIN_VARIABLES, userToVariables } from "./builtins.js";
import { compileLocale, renderChannel, type LayoutSource } from "./compose.js";
import { pickLocale } from "./locale.js";
import { buildTree, checkData, sampleData } from "./schema.js";
import type { UserLookup, VariableSpec } from "./types.js";

/** What Preview renders: a stored version or a draft, already loaded. */
export interface PreviewSource {
  key: string;
  version: number;
  category: string;
  channels: string[];
  defaultLocale: string;
  variables: VariableSpec[];
  contents: Map<string, Record<string, string>>;
  layout?: LayoutSource;
  /** Drafts were checked (syntax included) before; their parse failures are not reported twice. */
  checked?: boolean;
}

export interface PreviewRequest {
  locale?: string;
  channel?: string;
  data?: Record<string, unknown>;
  userId?: string;
}

export interface PreviewResult {
  parts: Record<string, string>;
  problems: string[];
  locale: string;
  data: JsonObject;
}

/**
 * Renders a version with sample, given or a real user's data and reports every problem instead of
 * failing: a manager looking at a preview wants to see what is wrong and the rest rendered anyway.
 * Missing data for the platform's links is filled with their samples (the unsubscribe link only for
 * marketing, as the delivery worker would), and user.* with the user's or the sample user's fields.
 */
export async function preview(src: PreviewSource, req: PreviewRequest, users?: UserLookup): Promise<PreviewResult> {
  const problems: string[] = [];
  const data: Record<string, unknown> = req.data ? structuredClone(req.data) : sampleData(src.variables);
  let userLocale: string | undefined;
  if (req.userId) {
    if (!users) problems.push("user_id: no user directory is configured for previews");
    else {
      try {
        const u = (await users.getUsers([req.userId])).get(req.userId);
        if (!u) problems.push(`user_id: user "${req.userId}" not found`);
        else {
          data.user = userToVariables(u);
          userLocale = u.locale || undefined;
        }
      } catch (err) {
        problems.push(`user_id: user directory unavailable: ${(err as Error).message}`);
      }
    }
  }
  if (data.user === undefined) data.user = sampleData(USER_VARIABLES).user;
  for (const p of PLATFORM_VARIABLES) {
    if (data[p.name] !== undefined) continue;
    if (p.name === "unsubscribe_url" && src.category !== "marketing") continue;
    data[p.name] = p.sample;
  }
  const tree = buildTree([...BUILTIN_VARIABLES, ...src.variables]);
  problems.push(...checkData(tree, data, "data"));

  const locales = [...src.contents.keys()];
  const locale = pickLocale(req.locale || userLocale, locales, src.defaultLocale);
  if (req.locale && locale.toLowerCase() !== req.locale.toLowerCase()) {
    problems.push(`locale: no content for "${req.locale}"; rendered "${locale}"`);
  }
  const parts: Record<string, string> = {};
  const source = src.contents.get(locale);
  if (!source) return { parts, problems: [...problems, "contents: nothing to render"], locale, data: data as JsonObject };
  const compiled = compileLocale({
    key: src.key,
    version: src.version,
    locale,
    channels: src.channels,
    variables: src.variables,
    parts: source,
    layout: src.layout,
    onError: (_where, message) => {
      if (!src.checked) problems.push(message);
    },
  });
  const channels = req.channel ? [req.channel] : src.channels;
  for (const ch of channels) {
    try {
      Object.assign(parts, renderChannel(compiled, ch, data).parts);
    } catch (err) {
      problems.push(err instanceof ConnectError ? err.rawMessage : String(err));
    }
  }
  return { parts, problems, locale, data: data as JsonObject };
}
