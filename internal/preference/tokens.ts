import { createHash, randomBytes } from "node:crypto";
import type { Db } from "../store/db.js";

/** Links in old mail must keep working for a long while (RFC 8058 asks for no expiry at all). */
export const TOKEN_TTL_MS = 400 * 24 * 3600_000;

export interface TokenScope {
  /** The user, or "" for a bare address. */
  userId: string;
  /** The bare address, or "" for a user. */
  address: string;
  category: string;
  locale: string;
  deliveryId: string;
}

export interface StoredToken extends TokenScope {
  used: boolean;
}

const TOKEN = /^[A-Za-z0-9_-]{22}$/;

export const hashToken = (token: string) => createHash("sha256").update(token).digest("hex");

/** A fresh 128-bit token for one delivery; only its hash is stored. */
export async function issueToken(db: Db, s: TokenScope, now = new Date()): Promise<string> {
  return (await issueTokens(db, [s], now))[0];
}

/** One fresh token per scope, in order, stored with one statement (the workers issue them in batches). */
export async function issueTokens(db: Db, scopes: readonly TokenScope[], now = new Date()): Promise<string[]> {
  // One draw from the generator for the whole batch, cut into 128-bit tokens.
  const random = randomBytes(16 * scopes.length);
  const tokens = scopes.map((_, i) => random.subarray(16 * i, 16 * i + 16).toString("base64url"));
  const expires = new Date(now.getTime() + TOKEN_TTL_MS);
  await db.query(
    `INSERT INTO unsubscribe_tokens (token_hash, user_id, address, category, locale, delivery_id, expires_at)
     VALUES ${scopes.map(() => "(?, ?, ?, ?, ?, ?, ?)").join(", ")}`,
    scopes.flatMap((s, i) => [hashToken(tokens[i]), s.userId, s.address, s.category, s.locale.slice(0, 16), s.deliveryId, expires]),
  );
  return tokens;
}

/** The token's scope, or undefined for a malformed, unknown (forged) or expired token. */
export async function findToken(db: Db, token: string): Promise<StoredToken | undefined> {
  if (!TOKEN.test(token)) return undefined;
  const [rows] = (await db.execute(
    `SELECT user_id, address, category, locale, delivery_id, used_at FROM unsubscribe_tokens
     WHERE token_hash = ? AND expires_at > CURRENT_TIMESTAMP(3)`,
    [hashToken(token)],
  )) as unknown as [{ user_id: string; address: string; category: string; locale: string; delivery_id: string; used_at: unknown }[]];
  const r = rows[0];
  if (!r) return undefined;
  return { userId: r.user_id, address: r.address, category: r.category, locale: r.locale, deliveryId: r.delivery_id, used: r.used_at != null };
}

export async function markTokenUsed(db: Db, token: string): Promise<void> {
  await db.execute("UPDATE unsubscribe_tokens SET used_at = COALESCE(used_at, CURRENT_TIMESTAMP(3)) WHERE token_hash = ?", [hashToken(token)]);
}

/** Deletes expired tokens, a bounded batch at a time; returns how many went. */
export async function purgeExpiredTokens(db: Db, batch = 5000): Promise<number> {
  const [r] = (await db.execute(`DELETE FROM unsubscribe_tokens WHERE expires_at < CURRENT_TIMESTAMP(3) LIMIT ${Math.floor(batch)}`)) as unknown as [
    { affectedRows: number },
  ];
  return r.affectedRows;
}
