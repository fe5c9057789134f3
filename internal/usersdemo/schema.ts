import type { ResultSetHeader, RowDataPacket } from "mysql2/promise";
import type { Db } from "../store/db.js";
import { makeFakeUser } from "./fake-users.js";

// users-demo owns this table in its own database; it is not part of the platform's migrations.
// `seq` is the numeric key ListUsers pages by; `id` is what the platform sees ("u<seq>").
const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS demo_users (
  seq INT UNSIGNED NOT NULL,
  id VARCHAR(32) NOT NULL,
  email VARCHAR(255) NOT NULL,
  name VARCHAR(255) NOT NULL,
  locale VARCHAR(8) NOT NULL,
  time_zone VARCHAR(64) NOT NULL,
  favourite_genres VARCHAR(255) NOT NULL COMMENT 'comma-separated, matched with FIND_IN_SET',
  phone VARCHAR(32) NOT NULL DEFAULT '',
  email_confirmed TINYINT(1) NOT NULL DEFAULT 0,
  birthday DATE NULL,
  birthday_md CHAR(5) NULL COMMENT 'MM-DD of birthday, for the birthday filter',
  subscription_expires_at DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (seq),
  UNIQUE KEY uq_demo_users_id (id),
  KEY ix_demo_users_locale (locale),
  KEY ix_demo_users_time_zone (time_zone),
  KEY ix_demo_users_birthday_md (birthday_md),
  KEY ix_demo_users_subscription (subscription_expires_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci`;

const INSERT_CHUNK = 1000;

export async function ensureSchema(db: Db): Promise<void> {
  await db.query(CREATE_TABLE);
}

export interface SeedResult {
  inserted: number;
  deleted: number;
}

/**
 * Makes demo_users hold exactly users 1..n. Rows that already exist are left alone (so confirmed emails
 * survive a restart); a table already at n does nothing. Safe to run from two processes at once.
 */
export async function seedUsers(db: Db, n: number, now = Date.now()): Promise<SeedResult> {
  const [[state]] = await db.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS cnt, COALESCE(MAX(seq), 0) AS maxSeq FROM demo_users",
  );
  const count = Number(state.cnt);
  const maxSeq = Number(state.maxSeq);
  if (count === n && maxSeq === n) return { inserted: 0, deleted: 0 };

  let deleted = 0;
  if (maxSeq > n) {
    const [res] = await db.query<ResultSetHeader>("DELETE FROM demo_users WHERE seq > ?", [n]);
    deleted = res.affectedRows;
  }
  // With no gaps below maxSeq only the tail is missing; otherwise fill every gap (duplicates are skipped).
  const remaining = count - deleted;
  const from = remaining === Math.min(maxSeq, n) ? Math.min(maxSeq, n) + 1 : 1;

  let inserted = 0;
  for (let start = from; start <= n; start += INSERT_CHUNK) {
    const rows: unknown[][] = [];
    for (let seq = start; seq < start + INSERT_CHUNK && seq <= n; seq++) {
      const u = makeFakeUser(seq, now);
      rows.push([
        u.seq,
        u.id,
        u.email,
        u.name,
        u.locale,
        u.timeZone,
        u.favouriteGenres.join(","),
        u.phone,
        u.birthday,
        u.birthday ? u.birthday.slice(5) : null,
        u.subscriptionExpiresAt,
        u.createdAt,
      ]);
    }
    // "ON DUPLICATE KEY UPDATE seq = seq" skips existing rows without hiding other errors as IGNORE would.
    const [res] = await db.query<ResultSetHeader>(
      `INSERT INTO demo_users (seq, id, email, name, locale, time_zone, favourite_genres, phone, birthday,
         birthday_md, subscription_expires_at, created_at)
       VALUES ? ON DUPLICATE KEY UPDATE seq = seq`,
      [rows],
    );
    // affectedRows counts 1 per inserted row and 0 per unchanged duplicate.
    inserted += res.affectedRows;
  }
  return { inserted, deleted };
}
