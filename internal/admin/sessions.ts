import { createHash, randomBytes } from "node:crypto";
import type { Db } from "../store/db.js";
import type { AdminUserRow, AdminUserStore } from "./users.js";

export interface Session {
  /** sha256 of the cookie's token: the row's key, never the token itself. */
  tokenHash: string;
  user: AdminUserRow;
  expiresAt: Date;
}

export interface SessionStore {
  start(userId: string, userAgent: string): Promise<{ token: string; expiresAt: Date }>;
  /** The live session for a cookie token; undefined when unknown, expired, or the user is disabled. */
  resolve(token: string): Promise<Session | undefined>;
  end(tokenHash: string): Promise<void>;
  /** Ends every session of a user (role change, disable, password change), except one if given. */
  endAllFor(userId: string, exceptTokenHash?: string): Promise<void>;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/**
 * Every RPC from the panel resolves its session, so a short cache keeps MariaDB out of the hot path.
 * Sign-out, role changes and disabling clear this process's cache at once; other API processes see
 * them within CACHE_MS.
 */
const CACHE_MS = 5000;

export function createSessionStore(db: Db, users: AdminUserStore, ttlMs: number): SessionStore {
  const cache = new Map<string, { s: Session | undefined; until: number }>();
  return {
    async start(userId, userAgent) {
      const token = randomBytes(32).toString("base64url");
      const expiresAt = new Date(Date.now() + ttlMs);
      await db.execute("INSERT INTO admin_sessions (token_hash, user_id, expires_at, user_agent) VALUES (?, ?, ?, ?)", [
        hashToken(token),
        userId,
        expiresAt,
        userAgent.slice(0, 255),
      ]);
      // Expired rows are only clutter; sign-ins are rare enough to sweep a few each time.
      await db.execute("DELETE FROM admin_sessions WHERE expires_at < CURRENT_TIMESTAMP(3) LIMIT 100");
      return { token, expiresAt };
    },
    async resolve(token) {
      if (!/^[A-Za-z0-9_-]{43}$/.test(token)) return undefined;
      const h = hashToken(token);
      const hit = cache.get(h);
      if (hit && hit.until > Date.now()) return hit.s && hit.s.expiresAt.getTime() > Date.now() ? hit.s : undefined;
      const [rows] = (await db.execute(
        "SELECT user_id, expires_at FROM admin_sessions WHERE token_hash = ? AND expires_at > CURRENT_TIMESTAMP(3)",
        [h],
      )) as unknown as [{ user_id: string; expires_at: Date }[]];
      let s: Session | undefined;
      if (rows[0]) {
        const user = await users.byId(rows[0].user_id);
        if (user && !user.disabled) s = { tokenHash: h, user, expiresAt: rows[0].expires_at };
      }
      if (cache.size > 10_000) cache.clear();
      cache.set(h, { s, until: Date.now() + CACHE_MS });
      return s;
    },
    async end(tokenHash) {
      cache.delete(tokenHash);
      await db.execute("DELETE FROM admin_sessions WHERE token_hash = ?", [tokenHash]);
    },
    async endAllFor(userId, except) {
      cache.clear();
      await db.execute("DELETE FROM admin_sessions WHERE user_id = ? AND token_hash <> ?", [userId, except ?? ""]);
    },
  };
}
