import { toDate, withTx, type Conn, type Db } from "../store/db.js";
import { switchKey, type Defaults, type QuietWindow, type UserPrefs } from "./rules.js";

/** A partial change: undefined fields stay as they are. */
export interface PrefChange {
  allOff?: boolean;
  timeZone?: string;
  locale?: string;
  /** null clears the quiet hours. */
  quiet?: QuietWindow | null;
  switches?: { category: string; channel: string; enabled: boolean }[];
}

/** The etag handed out with preferences: the row's version, which every change raises. */
export const etagOf = (version: number) => `v${version}`;

export class StaleEtagError extends Error {
  constructor(readonly current: string) {
    super(`etag does not match: the preferences changed since they were read (current ${current})`);
  }
}

export async function loadDefaults(db: Db): Promise<Defaults> {
  const [rows] = (await db.query("SELECT category, channel, enabled FROM preference_defaults")) as unknown as [
    { category: string; channel: string; enabled: number }[],
  ];
  return new Map(rows.map((r) => [switchKey(r.category, r.channel), r.enabled === 1]));
}

interface PrefRow {
  user_id: string;
  all_off: number;
  time_zone: string;
  locale: string;
  quiet_start: number | null;
  quiet_end: number | null;
  version: number;
  updated_at: Date | string | null;
}

const CHUNK = 1000;

/** Stored preferences of the users that have any; users without a row are absent. */
export async function loadPrefs(db: Db | Conn, userIds: readonly string[]): Promise<Map<string, UserPrefs>> {
  const out = new Map<string, UserPrefs>();
  const ids = [...new Set(userIds)];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const [rows] = (await db.query(
      `SELECT user_id, all_off, time_zone, locale, quiet_start, quiet_end, version, updated_at
       FROM user_preferences WHERE user_id IN (?)`,
      [chunk],
    )) as unknown as [PrefRow[]];
    for (const r of rows) {
      out.set(r.user_id, {
        userId: r.user_id,
        allOff: r.all_off === 1,
        timeZone: r.time_zone,
        locale: r.locale,
        quiet: r.quiet_start != null && r.quiet_end != null ? { start: r.quiet_start, end: r.quiet_end } : undefined,
        switches: new Map(),
        version: r.version,
        updatedAt: r.updated_at ? toDate(r.updated_at) : undefined,
      });
    }
    const [sw] = (await db.query(
      "SELECT user_id, category, channel, enabled FROM user_channel_preferences WHERE user_id IN (?)",
      [chunk],
    )) as unknown as [{ user_id: string; category: string; channel: string; enabled: number }[]];
    for (const s of sw) out.get(s.user_id)?.switches.set(switchKey(s.category, s.channel), s.enabled === 1);
  }
  return out;
}

/**
 * Applies a partial change in one transaction. The user's row is locked first, so two changes of
 * the same user are serialised, and a change that names an etag other than the current one fails
 * with StaleEtagError instead of overwriting what someone else just saved.
 */
export async function updatePrefs(db: Db, userId: string, change: PrefChange, etag?: string): Promise<void> {
  await withTx(db, async (c) => {
    await c.execute("INSERT IGNORE INTO user_preferences (user_id) VALUES (?)", [userId]);
    const [rows] = (await c.execute("SELECT version FROM user_preferences WHERE user_id = ? FOR UPDATE", [userId])) as unknown as [
      { version: number }[],
    ];
    const current = etagOf(rows[0].version);
    if (etag && etag !== current) throw new StaleEtagError(current);
    const sets: string[] = [];
    const values: unknown[] = [];
    const set = (col: string, v: unknown) => {
      sets.push(`${col} = ?`);
      values.push(v);
    };
    if (change.allOff !== undefined) set("all_off", change.allOff ? 1 : 0);
    if (change.timeZone !== undefined) set("time_zone", change.timeZone);
    if (change.locale !== undefined) set("locale", change.locale);
    if (change.quiet !== undefined) {
      set("quiet_start", change.quiet?.start ?? null);
      set("quiet_end", change.quiet?.end ?? null);
    }
    await c.query(
      `UPDATE user_preferences SET ${[...sets, "version = version + 1", "updated_at = CURRENT_TIMESTAMP(3)"].join(", ")} WHERE user_id = ?`,
      [...values, userId],
    );
    if (change.switches?.length) {
      await c.query(
        `INSERT INTO user_channel_preferences (user_id, category, channel, enabled) VALUES ?
         ON DUPLICATE KEY UPDATE enabled = VALUES(enabled)`,
        [change.switches.map((s) => [userId, s.category, s.channel, s.enabled ? 1 : 0])],
      );
    }
  });
}

/** The switches that turn one category off on every channel. */
export function categoryOff(category: string, channels: readonly string[]): PrefChange["switches"] {
  return channels.map((channel) => ({ category, channel, enabled: false }));
}
