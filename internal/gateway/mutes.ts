import type { Db } from "../store/db.js";
import { decisionKey, type Decision, type PlanPolicy } from "../planner/policy.js";

export type MuteKind = "sender" | "category";

/**
 * Categories a user may mute. Transactional mail (receipts, password resets, confirmations) cannot be
 * muted: losing it hurts the user more than any noise it makes.
 */
export const MUTABLE_CATEGORIES = ["marketing", "service"] as const;

export interface Mute {
  kind: MuteKind;
  value: string;
}

export interface MuteStore {
  mute(userId: string, m: Mute): Promise<boolean>;
  unmute(userId: string, m: Mute): Promise<boolean>;
  list(userId: string): Promise<Mute[]>;
}

export function createMuteStore(db: Db): MuteStore {
  return {
    async mute(userId, m) {
      const [r] = (await db.execute("INSERT IGNORE INTO mutes (user_id, kind, value) VALUES (?, ?, ?)", [userId, m.kind, m.value])) as unknown as [
        { affectedRows: number },
      ];
      return r.affectedRows === 1;
    },
    async unmute(userId, m) {
      const [r] = (await db.execute("DELETE FROM mutes WHERE user_id = ? AND kind = ? AND value = ?", [userId, m.kind, m.value])) as unknown as [
        { affectedRows: number },
      ];
      return r.affectedRows === 1;
    },
    async list(userId) {
      const [rows] = (await db.execute("SELECT kind, value FROM mutes WHERE user_id = ? ORDER BY created_at", [userId])) as unknown as [Mute[]];
      return rows.map((r) => ({ kind: r.kind, value: r.value }));
    },
  };
}

/**
 * Skips, on every channel, what a recipient muted: notifications caused by a muted sender, and
 * notifications of a muted category. One indexed query per planned notification.
 */
export function createMutePolicy(db: Db): PlanPolicy {
  return {
    async decide(input) {
      const out = new Map<string, Decision>();
      if (input.userIds.length === 0) return out;
      const conds: string[] = [];
      const args: unknown[] = [input.userIds];
      if (input.senderId) {
        conds.push("(kind = 'sender' AND value = ?)");
        args.push(input.senderId);
      }
      if ((MUTABLE_CATEGORIES as readonly string[]).includes(input.category)) {
        conds.push("(kind = 'category' AND value = ?)");
        args.push(input.category);
      }
      if (conds.length === 0) return out;
      const [rows] = (await db.query(`SELECT DISTINCT user_id FROM mutes WHERE user_id IN (?) AND (${conds.join(" OR ")})`, args)) as unknown as [
        { user_id: string }[],
      ];
      for (const r of rows) {
        for (const ch of input.channels) out.set(decisionKey(r.user_id, ch), { kind: "skip", reason: "muted" });
      }
      return out;
    },
  };
}
