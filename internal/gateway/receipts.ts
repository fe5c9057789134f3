import type { Logger } from "../log/logger.js";
import { DeliveryState } from "../notification/model.js";
import { withTx, type Db } from "../store/db.js";
import { unreadCount } from "./inbox-store.js";
import { frames } from "./protocol.js";

export type ReceiptKind = "delivered" | "read";

/** How often, and how many times, a receipt waits for the worker to record `sent` first. */
const WAIT_MS = 250;
const WAIT_TRIES = 40;
const CHUNK = 500;
/** Acks from all connections of a gateway are gathered this long into one transaction. */
const ACK_BATCH_MS = 20;

interface Request {
  userId: string;
  ids: string[];
}

export interface Receipts {
  /**
   * Records that the user's client received (or the user read) these items. Ids that are not the
   * user's are ignored. Returns the ids whose state changed.
   */
  record(userId: string, ids: readonly string[], kind: ReceiptKind): Promise<string[]>;
  /** Marks every unread item of the user as read; returns how many changed. */
  markAllRead(userId: string): Promise<number>;
  /** Stops the pending ledger retries (shutdown). */
  stop(): void;
}

/**
 * Acks and reads: the inbox row carries delivered_at/read_at, and the ledger moves the delivery to
 * delivered (4) or read (5) with a history row. A client can acknowledge an item before the worker
 * that published it has recorded `sent` (the publish happens inside the send); the ledger would then
 * overwrite `delivered` with `sent`, so a receipt for a delivery still in `sending` waits and retries.
 */
export function createReceipts(deps: {
  db: Db;
  log: Logger;
  /** Sends a frame to every open connection of the user (all gateways): reads update other tabs' badges. */
  publish(userId: string, frame: string): void;
}): Receipts {
  const { db, log } = deps;
  const timers = new Set<NodeJS.Timeout>();
  let stopped = false;
  // Every notification shown is acknowledged: one transaction per ack would double the in-app path's
  // database load, so acks wait a few milliseconds for company.
  let acks: { req: Request; resolve(ids: string[]): void; reject(err: unknown): void }[] = [];
  let ackIds = 0;
  let ackTimer: NodeJS.Timeout | undefined;

  async function record(userId: string, ids: readonly string[], kind: ReceiptKind): Promise<string[]> {
    const changed: string[] = [];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const req = { userId, ids: [...new Set(ids.slice(i, i + CHUNK))] };
      changed.push(...(kind === "delivered" ? await queueAck(req) : (await recordMany([req], kind))[0]));
    }
    if (kind === "read" && changed.length > 0) await announceRead(userId, changed);
    return changed;
  }

  function queueAck(req: Request): Promise<string[]> {
    return new Promise((resolve, reject) => {
      acks.push({ req, resolve, reject });
      ackIds += req.ids.length;
      if (ackIds >= CHUNK) flushAcks();
      else ackTimer ??= setTimeout(flushAcks, ACK_BATCH_MS);
    });
  }

  function flushAcks() {
    clearTimeout(ackTimer);
    ackTimer = undefined;
    const batch = acks;
    acks = [];
    ackIds = 0;
    recordMany(
      batch.map((b) => b.req),
      "delivered",
    ).then(
      (out) => batch.forEach((b, i) => b.resolve(out[i])),
      (err) => batch.forEach((b) => b.reject(err)),
    );
  }

  /**
   * Records receipts of several users in one transaction of two packets: the inbox rows and their
   * deliveries read and locked (inbox first, as the websocket channel writes them), then the inbox
   * update with the ledger's moves and the COMMIT. Returns the changed ids per request.
   */
  async function recordMany(reqs: Request[], kind: ReceiptKind): Promise<string[][]> {
    const askers = new Map<string, Set<string>>();
    for (const r of reqs) for (const id of r.ids) (askers.get(id) ?? askers.set(id, new Set()).get(id)!).add(r.userId);
    if (askers.size === 0) return reqs.map(() => []);
    const asked = [...askers.keys()];
    const { changed, waiting } = await withTx(db, async (c) => {
      // Row locks make two tabs acknowledging the same item at once record it once.
      const [[rows, states]] = (await c.query(
        `SELECT delivery_id, user_id, delivered_at, read_at FROM inbox WHERE delivery_id IN (?) FOR UPDATE;
         ${LOCK_DELIVERIES}`,
        [asked, asked],
      )) as unknown as [[{ delivery_id: string; user_id: string; delivered_at: Date | null; read_at: Date | null }[], LedgerRow[]]];
      // Only the owner's receipts count: an id another user names is ignored.
      const todo = rows
        .filter((r) => askers.get(r.delivery_id)?.has(r.user_id) && (kind === "read" ? r.read_at == null : r.delivered_at == null))
        .map((r) => ({ id: r.delivery_id, userId: r.user_id }));
      if (todo.length === 0) return { changed: todo, waiting: [] };
      const now = new Date();
      const ids = todo.map((t) => t.id);
      const inbox =
        kind === "read"
          ? { sql: "UPDATE inbox SET read_at = ?, delivered_at = COALESCE(delivered_at, ?) WHERE delivery_id IN (?)", values: [now, now, ids] }
          : { sql: "UPDATE inbox SET delivered_at = ? WHERE delivery_id IN (?)", values: [now, ids] };
      const mine = new Set(ids);
      const step = ledgerMoves(states.filter((r) => mine.has(r.id)), kind, now);
      await c.commitWith([inbox.sql, ...step.sql].join(";\n"), [...inbox.values, ...step.values]);
      return { changed: todo, waiting: step.waiting };
    });
    // A receipt for a delivery whose `sent` is not recorded yet waits for it (see applyToLedger).
    if (waiting.length > 0) scheduleLedger(waiting, kind, 1);
    const owner = new Map(changed.map((t) => [t.id, t.userId]));
    return reqs.map((r) => r.ids.filter((id) => owner.get(id) === r.userId));
  }

  function scheduleLedger(ids: string[], kind: ReceiptKind, attempt: number) {
    if (stopped) return;
    if (attempt >= WAIT_TRIES) {
      log.warn({ kind, ids: ids.slice(0, 5), count: ids.length }, "deliveries never reached `sent`; receipt kept in the inbox only");
      return;
    }
    const t = setTimeout(() => {
      timers.delete(t);
      void applyToLedger(ids, kind, attempt);
    }, WAIT_MS);
    t.unref();
    timers.add(t);
  }

  /** The ledger's part of receipts that waited for the worker's `sent`. */
  async function applyToLedger(ids: string[], kind: ReceiptKind, attempt: number): Promise<void> {
    let waiting: string[];
    try {
      waiting = await withTx(db, async (c) => {
        const [rows] = (await c.query(LOCK_DELIVERIES, [ids])) as unknown as [LedgerRow[]];
        const step = ledgerMoves(rows, kind, new Date());
        if (step.sql.length > 0) await c.commitWith(step.sql.join(";\n"), step.values);
        return step.waiting;
      });
    } catch (err) {
      log.warn({ err: (err as Error).message, kind, count: ids.length }, "recording receipts in the ledger failed");
      waiting = ids;
    }
    if (waiting.length > 0) scheduleLedger(waiting, kind, attempt + 1);
  }

  async function announceRead(userId: string, ids: string[]) {
    try {
      deps.publish(userId, frames.unread(await unreadCount(db, userId), ids.slice(0, 100)));
    } catch (err) {
      log.warn({ err: (err as Error).message }, "announcing a read failed");
    }
  }

  return {
    record,
    async markAllRead(userId) {
      let total = 0;
      for (;;) {
        const [rows] = (await db.query(
          `SELECT delivery_id FROM inbox WHERE user_id = ? AND read_at IS NULL ORDER BY seq LIMIT ${CHUNK}`,
          [userId],
        )) as unknown as [{ delivery_id: string }[]];
        if (rows.length === 0) break;
        total += (await recordMany([{ userId, ids: rows.map((r) => r.delivery_id) }], "read"))[0].length;
        if (rows.length < CHUNK) break;
      }
      if (total > 0) await announceRead(userId, []);
      return total;
    },
    stop() {
      if (ackTimer) flushAcks();
      stopped = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
    },
  };
}

const LOCK_DELIVERIES = "SELECT id, status FROM deliveries WHERE id IN (?) FOR UPDATE";

interface LedgerRow {
  id: string;
  status: number;
}

/**
 * The ledger's moves for these (locked) rows: the statements that move the deliveries that may move
 * (history row, then state), and the ids still waiting for the worker's `sent`.
 */
function ledgerMoves(rows: readonly LedgerRow[], kind: ReceiptKind, now: Date): { sql: string[]; values: unknown[]; waiting: string[] } {
  const target = kind === "read" ? DeliveryState.Read : DeliveryState.Delivered;
  const from: number[] = kind === "read" ? [DeliveryState.Sent, DeliveryState.Delivered] : [DeliveryState.Sent];
  const move = rows.filter((r) => from.includes(r.status)).map((r) => r.id);
  const waiting = rows.filter((r) => r.status === DeliveryState.Sending || r.status === DeliveryState.Pending).map((r) => r.id);
  if (move.length === 0) return { sql: [], values: [], waiting };
  const detail = kind === "read" ? "read by the user" : "received by a client";
  return {
    sql: ["INSERT INTO delivery_events (delivery_id, at, status, detail) VALUES ?", "UPDATE deliveries SET status = ?, updated_at = ? WHERE id IN (?)"],
    values: [move.map((id) => [id, now, target, detail]), target, now, move],
    waiting,
  };
}
