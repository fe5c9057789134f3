/**
 * The best locale among those available: the requested one, then its language ("en-GB" -> "en"),
 * then the fallback (the template's default), then the first available.
 */
export function pickLocale(requested: string | undefined, available: readonly string[], fallback: string): string {
  const want = (requested ?? "").trim().toLowerCase().replace(/_/g, "-");
  if (want) {
    const exact = available.find((l) => l.toLowerCase() === want);
    if (exact) return exact;
    const lang = want.split("-")[0];
    const byLang = available.find((l) => l.toLowerCase() === lang) ?? available.find((l) => l.toLowerCase().split("-")[0] === lang);
    if (byLang) return byLang;
  }
  if (available.includes(fallback)) return fallback;
  return available[0] ?? fallback;
}

const LOCALE_RE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;

export function isValidLocale(locale: string): boolean {
  return LOCALE_RE.test(locale) && locale.length <= 16;
}
