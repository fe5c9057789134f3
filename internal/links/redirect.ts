/**
 * Redirect targets for confirmation links. Only absolute http(s) URLs to allow-listed hosts pass:
 * the checks run on the raw string as well as on the parsed URL, because browsers and URL parsers
 * disagree on inputs like `/\evil.example` or `https:evil.example`, and an open redirect on the
 * cinema's own domain is a phishing tool.
 */

const MAX_URL = 2048;
const HOST_ENTRY = /^(\*\.)?(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

export type RedirectCheck = { ok: true; url: string } | { ok: false; reason: string };

/** Normalises and checks allow-list entries: host names, or *.domain for any subdomain of it. */
export function parseAllowlist(value: unknown): string[] {
  if (!Array.isArray(value)) throw new Error("expected a list of host names");
  if (value.length > 100) throw new Error("at most 100 hosts");
  return value.map((h, i) => {
    if (typeof h !== "string") throw new Error(`[${i}]: expected a host name`);
    const host = h.trim().toLowerCase();
    if (!HOST_ENTRY.test(host)) throw new Error(`[${i}]: "${h}" is not a host name (e.g. cinema.example or *.cinema.example)`);
    return host;
  });
}

export function hostAllowed(host: string, allowlist: readonly string[]): boolean {
  const h = host.toLowerCase();
  return allowlist.some((e) => (e.startsWith("*.") ? h.endsWith(e.slice(1)) && h.length > e.length - 1 : h === e));
}

export function checkRedirect(raw: unknown, allowlist: readonly string[]): RedirectCheck {
  if (typeof raw !== "string" || raw === "") return { ok: false, reason: "expected an absolute http(s) URL" };
  if (raw.length > MAX_URL) return { ok: false, reason: `longer than ${MAX_URL} characters` };
  // Whitespace, control characters and backslashes are normalised away (or into '/') by browsers.
  if (/[\s\x00-\x1f\x7f\\]/.test(raw)) return { ok: false, reason: "must not contain whitespace, control characters or backslashes" };
  if (!/^https?:\/\/[^/]/i.test(raw)) return { ok: false, reason: "must be an absolute http:// or https:// URL" };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { ok: false, reason: "not a valid URL" };
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") return { ok: false, reason: "must be an http:// or https:// URL" };
  const authority = raw.slice(raw.indexOf("//") + 2).split(/[/?#]/)[0];
  if (u.username || u.password || authority.includes("@")) {
    return { ok: false, reason: "must not contain user information (user@host)" };
  }
  if (!u.hostname) return { ok: false, reason: "has no host" };
  if (!hostAllowed(u.hostname, allowlist)) {
    return { ok: false, reason: `host "${u.hostname}" is not in redirect_allowlist (${allowlist.join(", ") || "empty"})` };
  }
  return { ok: true, url: u.href };
}
