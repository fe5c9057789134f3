/** The admin panel's session cookie. */
export const SESSION_COOKIE = "notify_admin";

/** The value of one cookie in a Cookie request header. */
export function readCookie(header: string | null, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * HttpOnly keeps the token away from scripts; SameSite=Strict keeps browsers from sending it with any
 * cross-site request; Secure when the panel is served over https.
 */
export function sessionCookie(token: string, o: { secure: boolean; maxAgeS: number }): string {
  return [
    `${SESSION_COOKIE}=${token}`,
    "Path=/",
    `Max-Age=${Math.max(0, Math.floor(o.maxAgeS))}`,
    "HttpOnly",
    "SameSite=Strict",
    ...(o.secure ? ["Secure"] : []),
  ].join("; ");
}

export function clearedCookie(secure: boolean): string {
  return sessionCookie("", { secure, maxAgeS: 0 });
}
