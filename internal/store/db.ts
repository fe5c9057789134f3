import mysql, { type Pool, type PoolConnection, type PoolOptions } from "mysql2/promise";

export type Db = Pool;
/** What a transaction's statements run on (see withTx). */
export type Conn = Pick<PoolConnection, "query" | "execute">;
/** A transaction's connection that can also send its last statement together with the COMMIT. */
export interface TxConn extends Conn {
  /**
   * Runs `sql` and commits in one round trip; withTx does not commit again. Returns `sql`'s result
   * (for several statements, one result per statement).
   */
  commitWith(sql: string, values?: unknown): Promise<[unknown, unknown]>;
}

export interface DbOptions {
  /** mysql://user:pass@host:port/database */
  url: string;
  poolSize?: number;
}

/**
 * Where and as whom to connect, from the URL. `?socketPath=/run/mysqld/mysqld.sock` connects through
 * the server's Unix socket instead of TCP (a MariaDB on the same host: each round trip then skips the
 * loopback TCP stack on both sides); the spelling is mysql2's own, so the same URL works in `uri`.
 */
export function serverOf(url: string) {
  const u = new URL(url);
  const socketPath = u.searchParams.get("socketPath") || undefined;
  return {
    name: u.pathname.replace(/^\//, ""),
    options: {
      host: u.hostname,
      port: Number(u.port || 3306),
      user: decodeURIComponent(u.username || "root"),
      password: decodeURIComponent(u.password),
      ...(socketPath ? { socketPath } : {}),
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
    // withTx sends START TRANSACTION with a transaction's first statement and COMMIT with its last, and
    // the ledger sends a history insert with its state update: on this 2-core machine a round trip
    // (a socket write that wakes the server) costs more CPU than the statement. Every value still goes
    // through placeholders; nothing user-supplied is ever concatenated into SQL.
    multipleStatements: true,
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

type Results = [unknown[], unknown[]];

/**
 * Runs fn in a transaction; commits when it resolves, rolls back when it throws. The transaction costs
 * no round trips of its own: START TRANSACTION goes out with the first statement, and COMMIT with the
 * statement fn passes to `commitWith` (or on its own when fn does not). A statement that fails stops
 * the rest of its packet, so a failed `commitWith` never commits, and the transaction is rolled back.
 * Statements after `commitWith` run on their own (autocommit).
 */
export async function withTx<T>(db: Db, fn: (c: TxConn) => Promise<T>): Promise<T> {
  const c = await db.getConnection();
  let state = "idle" as "idle" | "open" | "committed";
  // Sends sql, opening the transaction first if it is not yet, and answers with sql's own result, as
  // mysql2 would without the START/COMMIT around it: one result for one statement, an array of one
  // result per statement for several.
  const send = async (sql: string, values: unknown, suffix = ""): Promise<[unknown, unknown]> => {
    const opening = state === "idle";
    if (opening) state = "open";
    if (!opening && !suffix) return c.query(sql, values as never) as unknown as Promise<[unknown, unknown]>;
    const [res, fields] = (await c.query(`${opening ? "START TRANSACTION; " : ""}${sql}${suffix}`, values as never)) as unknown as Results;
    const from = opening ? 1 : 0;
    const to = res.length - (suffix ? 1 : 0);
    if (to - from === 1) return [res[from], fields?.[from]];
    return [res.slice(from, to), fields?.slice(from, to)];
  };
  const tx: TxConn = {
    query: ((sql: unknown, values?: unknown) => {
      if (typeof sql !== "string") throw new TypeError("withTx: query takes an SQL string");
      return send(sql, values);
    }) as Conn["query"],
    execute: (async (sql: unknown, values?: unknown) => {
      // A prepared statement travels alone.
      if (state === "idle") {
        state = "open";
        await c.query("START TRANSACTION");
      }
      return c.execute(sql as string, values as never);
    }) as Conn["execute"],
    async commitWith(sql, values) {
      if (state === "committed") throw new Error("withTx: commitWith after the commit");
      const out = await send(sql, values, "; COMMIT");
      state = "committed";
      return out;
    },
  };
  try {
    const out = await fn(tx);
    if (state === "open") await c.query("COMMIT");
    return out;
  } catch (err) {
    if (state === "open") await c.query("ROLLBACK").catch(() => undefined);
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
