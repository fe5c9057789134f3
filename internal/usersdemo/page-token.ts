import { createHash } from "node:crypto";

// The token binds the position to the filter it was made for: reusing it with another filter would
// silently skip or repeat users, so that is refused instead.

interface TokenBody {
  /** Last seq returned. */
  a: number;
  /** Fingerprint of the filter. */
  f: string;
}

export function filterFingerprint(filter: unknown): string {
  return createHash("sha256").update(JSON.stringify(filter ?? null)).digest("base64url").slice(0, 16);
}

export function encodePageToken(afterSeq: number, fingerprint: string): string {
  const body: TokenBody = { a: afterSeq, f: fingerprint };
  return Buffer.from(JSON.stringify(body)).toString("base64url");
}

/** The seq to continue after, or an Error describing why the token is unusable. */
export function decodePageToken(token: string, fingerprint: string): number | Error {
  let body: Partial<TokenBody>;
  try {
    body = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as Partial<TokenBody>;
  } catch {
    return new Error("malformed page_token");
  }
  if (typeof body?.a !== "number" || !Number.isSafeInteger(body.a) || body.a < 0) {
    return new Error("malformed page_token");
  }
  if (body.f !== fingerprint) return new Error("page_token was issued for a different filter");
  return body.a;
}
