import type { ResultSetHeader, RowDataPacket } from "mysql2/promise";
import type { Db } from "../store/db.js";

// All SQL of the demo directory lives here; the RPC handlers only validate and shape messages.

export interface UserRow {
  seq: number;
  id: string;
  email: string;
  name: string;
  locale: string;
  timeZone: string;
  favouriteGenres: string[];
  phone: string;
  emailConfirmed: boolean;
  birthday: string;
  subscriptionExpiresAt: Date | null;
  createdAt: Date;
}

/** A validated filter; empty strings, 0 and [] mean "do not filter". */
export interface UserQuery {
  favouriteGenre: string;
  locale: string;
  subscriptionExpiresWithinDays: number;
  birthdayMonthDay: string;
  ids: string[];
  timeZone: string;
}

const SELECT_USER = `SELECT seq, id, email, name, locale, time_zone, favourite_genres, phone, email_confirmed,
  COALESCE(DATE_FORMAT(birthday, '%Y-%m-%d'), '') AS birthday, subscription_expires_at, created_at
  FROM demo_users`;

const DAY_MS = 86_400_000;

function toRow(r: RowDataPacket): UserRow {
  return {
    seq: Number(r.seq),
    id: r.id,
    email: r.email,
    name: r.name,
    locale: r.locale,
    timeZone: r.time_zone,
    favouriteGenres: r.favourite_genres ? String(r.favourite_genres).split(",") : [],
    phone: r.phone,
    emailConfirmed: Boolean(r.email_confirmed),
    birthday: r.birthday,
    subscriptionExpiresAt: r.subscription_expires_at ?? null,
    createdAt: r.created_at,
  };
}

export async function findUsersByIds(db: Db, ids: string[]): Promise<UserRow[]> {
  if (ids.length === 0) return [];
  const [rows] = await db.query<RowDataPacket[]>(`${SELECT_USER} WHERE id IN (?)`, [ids]);
  return rows.map(toRow);
}

function whereClause(q: UserQuery, now: Date): { sql: string; params: unknown[] } {
  const parts: string[] = [];
  const params: unknown[] = [];
  if (q.favouriteGenre) {
    parts.push("FIND_IN_SET(?, favourite_genres) > 0");
    params.push(q.favouriteGenre);
  }
  if (q.locale) {
    parts.push("locale = ?");
    params.push(q.locale);
  }
  if (q.timeZone) {
    parts.push("time_zone = ?");
    params.push(q.timeZone);
  }
  if (q.birthdayMonthDay) {
    parts.push("birthday_md = ?");
    params.push(q.birthdayMonthDay);
  }
  if (q.subscriptionExpiresWithinDays > 0) {
    parts.push("subscription_expires_at > ? AND subscription_expires_at <= ?");
    params.push(now, new Date(now.getTime() + q.subscriptionExpiresWithinDays * DAY_MS));
  }
  if (q.ids.length > 0) {
    parts.push("id IN (?)");
    params.push(q.ids);
  }
  return { sql: parts.length ? parts.join(" AND ") : "TRUE", params };
}

/** Up to `limit` users with seq > afterSeq matching q, in seq order. */
export async function listUsersAfter(
  db: Db,
  q: UserQuery,
  afterSeq: number,
  limit: number,
  now: Date,
): Promise<UserRow[]> {
  const w = whereClause(q, now);
  const [rows] = await db.query<RowDataPacket[]>(`${SELECT_USER} WHERE seq > ? AND ${w.sql} ORDER BY seq LIMIT ?`, [
    afterSeq,
    ...w.params,
    limit,
  ]);
  return rows.map(toRow);
}

export async function countUsers(db: Db, q: UserQuery, now: Date): Promise<number> {
  const w = whereClause(q, now);
  const [[row]] = await db.query<RowDataPacket[]>(`SELECT COUNT(*) AS cnt FROM demo_users WHERE ${w.sql}`, w.params);
  return Number(row.cnt);
}

export type ConfirmResult = "confirmed" | "already" | "not_found";

export async function confirmEmail(db: Db, id: string): Promise<ConfirmResult> {
  // The conditional UPDATE is the atomic test-and-set: of two racing calls exactly one sees a changed row.
  const [res] = await db.query<ResultSetHeader>(
    "UPDATE demo_users SET email_confirmed = 1 WHERE id = ? AND email_confirmed = 0",
    [id],
  );
  if (res.affectedRows === 1) return "confirmed";
  const [rows] = await db.query<RowDataPacket[]>("SELECT 1 FROM demo_users WHERE id = ?", [id]);
  return rows.length ? "already" : "not_found";
}
