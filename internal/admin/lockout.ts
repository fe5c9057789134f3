import type { Db } from "../store/db.js";

export interface LockoutOptions {
  /** Failed attempts allowed within the window. */
  attempts: number;
  windowMs: number;
}

export const DEFAULT_LOCKOUT: LockoutOptions = { attempts: 5, windowMs: 15 * 60_000 };

export interface SignInGuard {
  /**
   * Records an attempt for the email before the password is checked, so parallel guesses cannot all
   * slip past the count; returns lockedUntil when the attempts allowed are used up (that attempt is
   * then forgotten, so waiting out the lock is enough).
   */
  begin(email: string): Promise<{ attemptId: number; lockedUntil?: Date }>;
  /** Marks the attempt successful, which also clears the earlier failures' weight. */
  succeeded(attemptId: number): Promise<void>;
}

export function createSignInGuard(db: Db, o: LockoutOptions = DEFAULT_LOCKOUT): SignInGuard {
  return {
    async begin(email) {
      const [ins] = (await db.execute("INSERT INTO admin_sign_in_attempts (email, ok) VALUES (?, 0)", [email])) as unknown as [
        { insertId: number },
      ];
      const attemptId = Number(ins.insertId);
      const [rows] = (await db.execute(
        `SELECT id, at FROM admin_sign_in_attempts
          WHERE email = ? AND ok = 0 AND id < ?
            AND at > DATE_SUB(CURRENT_TIMESTAMP(3), INTERVAL ? SECOND)
            AND id > (SELECT COALESCE(MAX(id), 0) FROM admin_sign_in_attempts WHERE email = ? AND ok = 1)
          ORDER BY id DESC LIMIT ${Math.trunc(o.attempts)}`,
        [email, attemptId, Math.ceil(o.windowMs / 1000), email],
      )) as unknown as [{ id: number; at: Date }[]];
      if (rows.length < o.attempts) return { attemptId };
      await db.execute("DELETE FROM admin_sign_in_attempts WHERE id = ?", [attemptId]);
      // Unlocks when the oldest of the counted failures leaves the window.
      const oldest = rows[rows.length - 1].at;
      return { attemptId, lockedUntil: new Date(oldest.getTime() + o.windowMs) };
    },
    async succeeded(attemptId) {
      await db.execute("UPDATE admin_sign_in_attempts SET ok = 1 WHERE id = ?", [attemptId]);
      await db.execute("DELETE FROM admin_sign_in_attempts WHERE at < DATE_SUB(CURRENT_TIMESTAMP(3), INTERVAL 1 DAY) LIMIT 500");
    },
  };
}
