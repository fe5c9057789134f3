import mysql, { type Pool, type PoolConnection, type PoolOptions } from "mysql2/promise";

export type Db = Pool;
export type Conn = PoolConnection;

export interface DbOptions {
  /** mysql://user:pass@host:port/database */
  url: string;
  poolSize?: number;
}

/** Where and as whom to connect, from the URL. */
export function serverOf(url: string) {
  const u = new URL(url);
  return {
    name: u.pathname.replace(/^\//, ""),
    options: {
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username || "root"),
      password: decodeURIComponent(u.password),
    },
  };
}

export function createDb(opts: DbOptions): Db {
  const { name, options } = serverOf(opts.url);
  const cfg: PoolOptions = {
    ...options,
    database: name || undefined,
    connectionLimit: opts.poolSize ?? 16,
    charset: "utf8mb4",
    // Times are stored and read as UTC; DATETIME(3) columns hold UTC wall-clock values.
    timezone: "Z",
    dateStrings: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    enableKeepAlive: true,
    waitForConnections: true,
    // No stack captured per statement (a few % of CPU at saturation); failures are logged with their context.
    trace: false,
  };
  const pool = mysql.createPool(cfg);
  // Every session in UTC with READ COMMITTED: outbox and ledger claims use FOR UPDATE SKIP LOCKED,
  // which under REPEATABLE READ takes gap locks that make concurrent batched INSERTs deadlock.
  pool.on("connection", (c) => {
    c.query("SET time_zone = '+00:00', SESSION tx_isolation = 'READ-COMMITTED'");
  });
  return pool;
}

/** Runs one statement on the server of the URL, outside any database (create, drop). */
async function onServer(url: string, statement: (name: string) => string): Promise<void> {
  const { name, options } = serverOf(url);
  if (!/^[A-Za-z0-9_]+$/.test(name)) throw new Error(`invalid database name in URL: ${name}`);
  const conn = await mysql.createConnection(options);
  try {
    await conn.query(statement(name));
  } finally {
    await conn.end();
  }
}

/** Creates the database named in the URL when it does not exist (dev start and tests). */
export const ensureDatabase = (url: string) =>
  onServer(url, (name) => `CREATE DATABASE IF NOT EXISTS \`${name}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`);

/** Drops the database named in the URL (test clean-up). */
export const dropDatabase = (url: string) => onServer(url, (name) => `DROP DATABASE IF EXISTS \`${name}\``);

/** Runs fn in a transaction; commits when it resolves, rolls back when it throws. */
export async function withTx<T>(db: Db, fn: (c: Conn) => Promise<T>): Promise<T> {
  const c = await db.getConnection();
  try {
    await c.beginTransaction();
    const out = await fn(c);
    await c.commit();
    return out;
  } catch (err) {
    await c.rollback().catch(() => undefined);
    throw err;
  } finally {
    c.release();
  }
}

const TRANSIENT_DB_CODES = new Set([
  "ER_LOCK_DEADLOCK",
  "ER_LOCK_WAIT_TIMEOUT",
  "PROTOCOL_CONNECTION_LOST",
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ER_CON_COUNT_ERROR",
  "ER_SERVER_SHUTDOWN",
  "ER_QUERY_INTERRUPTED",
  "PROTOCOL_SEQUENCE_TIMEOUT",
  "ER_CONNECTION_KILLED",
]);

/** True for database errors that a later retry can succeed after (deadlock, lost connection...). */
export function isTransientDbError(err: unknown): boolean {
  const code = (err as { code?: string })?.code;
  return typeof code === "string" && TRANSIENT_DB_CODES.has(code);
}

/** A Date from a DATETIME(3) column, or undefined for NULL. */
export function toDate(v: unknown): Date | undefined {
  if (v == null) return undefined;
  return v instanceof Date ? v : new Date(String(v));
}
