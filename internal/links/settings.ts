import type { JsonValue } from "@bufbuild/protobuf";
import type { SettingDef } from "../settings/settings.js";
import { checkRedirect, parseAllowlist } from "./redirect.js";

export const CONFIRM_REDIRECT_URL = "confirm_redirect_url";
export const REDIRECT_ALLOWLIST = "redirect_allowlist";

/** The settings of confirmation links; defaults come from NOTIFY_HOME_URL. */
export function linkSettings(homeUrl: string): SettingDef[] {
  return [
    {
      key: CONFIRM_REDIRECT_URL,
      description: "Where a confirmation link sends the user after confirming (absolute http(s) URL on an allow-listed host).",
      default: homeUrl,
      validate(value, next) {
        const r = checkRedirect(value, parseAllowlist(next(REDIRECT_ALLOWLIST)));
        if (!r.ok) throw new Error(r.reason);
        return r.url;
      },
    },
    {
      key: REDIRECT_ALLOWLIST,
      description: "Host names links may redirect to; *.domain allows its subdomains. Checked when a URL is set and again when a link is used.",
      default: [new URL(homeUrl).hostname],
      validate(value: JsonValue) {
        return parseAllowlist(value);
      },
    },
  ];
}
