import { headers as natsHeaders, millis, type JetStreamClient, type JetStreamManager, type JsMsg } from "nats";
import type { Topology } from "../bus/topology.js";
import type { Logger } from "../log/logger.js";
import { DeliveryState } from "../notification/model.js";
import { withTx, type Db } from "../store/db.js";

export type DeadReason = "max_deliveries" | "poison";

/** A message to keep: where it came from, what it was, why it died. */
export interface CaptureInput {
  kind: DeadReason;
  error: string;
  stream: string;
  seq: number;
  subject: string;
  publishedAt: Date;
  data: Uint8Array;
  deliveries: number;
  /** The last attempt may have reached the recipient. */
  uncertain?: boolean;
}

export interface DeadLetterRow {
  id: number;
  source: string;
  reason: DeadReason;
  error: string;
  deliveryId: string | null;
  notificationId: string | null;
  stream: string;
  streamSeq: number;
  subject: string;
  publishedAt: Date;
  deliveries: number;
  uncertain: boolean;
  replays: number;
  replayedAt: Date | null;
  createdAt: Date;
  /** deliveries.status, when there is a delivery. */
  deliveryStatus: number | null;
  payload?: Buffer;
}

export interface DeadLetterFilter {
  source?: string;
  reason?: string;
  since?: Date;
  until?: Date;
  includeReplayed?: boolean;
}

/** Ids or a filter: what replay and purge act on. */
export type Selection = { ids: number[] } | { filter: DeadLetterFilter };

export interface DeadLettersDeps {
  db: Db;
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  log: Logger;
  /** Wakes the relay so replays leave at once (they go out through the outbox). */
  kickRelay?: () => void;
}

const MAX_SELECTED = 10_000;

/**
 * The dead-letter inbox. Capture keeps a message in MariaDB (what operators query) and copies it to the
 * NOTIFY_DLQ stream; it is idempotent (unique per original message), so the consumer loop and the
 * MAX_DELIVERIES advisory may both capture the same message. Replays go out through the outbox, in
 * the same transaction that moves the delivery from dead back to pending.
 */
export function createDeadLetters(d: DeadLettersDeps) {
  const t = d.topology;

  /** What a message on the work stream is about: its source and ids, if it decodes. */
  const identify = (subject: string, data: Uint8Array) => {
    // A chunk of deliveries (a JSON array) names no single delivery: its rows are left to
    // the reconciler, which publishes each one again.
    const source = t.subjects.channelOf(subject) ?? (subject === t.subjects.requests ? "planner" : "other");
    let deliveryId: string | null = null;
    let notificationId: string | null = null;
    try {
      const body = JSON.parse(Buffer.from(data).toString("utf8")) as { d?: unknown; n?: unknown; notificationId?: unknown };
      if (typeof body.d === "string") deliveryId = body.d;
      if (typeof body.n === "string") notificationId = body.n;
      if (typeof body.notificationId === "string") notificationId = body.notificationId;
    } catch {
      // poison: no ids
    }
    return { source, deliveryId, notificationId };
  };

  async function capture(c: CaptureInput): Promise<{ created: boolean }> {
    const who = identify(c.subject, c.data);
    const h = natsHeaders();
    h.set("Notify-Dead-Reason", c.kind);
    h.set("Notify-Error", c.error.replace(/[\r\n]+/g, " ").slice(0, 500));
    h.set("Notify-Original-Subject", c.subject);
    h.set("Notify-Original-Seq", String(c.seq));
    if (who.deliveryId) h.set("Notify-Delivery-Id", who.deliveryId);
    const ack = await d.js.publish(t.subjects.dlq(who.source), c.data, {
      msgID: `dlq:${c.stream}:${c.seq}:${c.publishedAt.getTime()}`,
      headers: h,
      timeout: 10_000,
    });
    const [r] = (await d.db.query(
      `INSERT IGNORE INTO dead_letters (source, reason, error, delivery_id, notification_id, stream, stream_seq, subject,
         published_at, payload, deliveries, uncertain, dlq_seq, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP(3))`,
      [
        who.source,
        c.kind,
        c.error.slice(0, 1000),
        who.deliveryId,
        who.notificationId,
        c.stream,
        c.seq,
        c.subject,
        c.publishedAt,
        Buffer.from(c.data),
        c.deliveries,
        c.uncertain ? 1 : 0,
        ack.seq,
      ],
    )) as unknown as [{ affectedRows: number }];
    const created = r.affectedRows === 1;
    if (created) d.log.warn({ source: who.source, reason: c.kind, deliveryId: who.deliveryId, seq: c.seq, err: c.error }, "message dead-lettered");
    return { created };
  }

  /** Captures a message the consumer loop holds; `attempts` when more were made than the broker counted. */
  const captureMsg = (m: JsMsg, kind: DeadReason, error: string, attempts?: number) =>
    capture({
      kind,
      error,
      stream: m.info.stream,
      seq: m.info.streamSequence,
      subject: m.subject,
      publishedAt: new Date(Math.floor(millis(m.info.timestampNanos))),
      data: m.data,
      deliveries: Math.max(attempts ?? 0, m.info.deliveryCount),
    });

  const where = (f: DeadLetterFilter) => {
    const parts: string[] = [];
    const args: unknown[] = [];
    if (f.source) (parts.push("dl.source = ?"), args.push(f.source));
    if (f.reason) (parts.push("dl.reason = ?"), args.push(f.reason));
    if (f.since) (parts.push("dl.created_at >= ?"), args.push(f.since));
    if (f.until) (parts.push("dl.created_at < ?"), args.push(f.until));
    if (!f.includeReplayed) parts.push("dl.replays = 0");
    return { sql: parts.length ? parts.join(" AND ") : "1=1", args };
  };

  const COLUMNS = `dl.id, dl.source, dl.reason, dl.error, dl.delivery_id, dl.notification_id, dl.stream, dl.stream_seq,
    dl.subject, dl.published_at, dl.deliveries, dl.uncertain, dl.replays, dl.replayed_at, dl.created_at, dv.status AS delivery_status`;
  const FROM = "dead_letters dl LEFT JOIN deliveries dv ON dv.id = dl.delivery_id";

  const toRow = (r: Record<string, unknown>): DeadLetterRow => ({
    id: Number(r.id),
    source: String(r.source),
    reason: r.reason as DeadReason,
    error: String(r.error),
    deliveryId: (r.delivery_id as string | null) ?? null,
    notificationId: (r.notification_id as string | null) ?? null,
    stream: String(r.stream),
    streamSeq: Number(r.stream_seq),
    subject: String(r.subject),
    publishedAt: r.published_at as Date,
    deliveries: Number(r.deliveries),
    uncertain: Number(r.uncertain) === 1,
    replays: Number(r.replays),
    replayedAt: (r.replayed_at as Date | null) ?? null,
    createdAt: r.created_at as Date,
    deliveryStatus: r.delivery_status == null ? null : Number(r.delivery_status),
    ...(r.payload ? { payload: r.payload as Buffer } : {}),
  });

  async function list(f: DeadLetterFilter, pageSize: number, beforeId?: number): Promise<DeadLetterRow[]> {
    const w = where(f);
    const [rows] = (await d.db.query(
      `SELECT ${COLUMNS} FROM ${FROM} WHERE ${w.sql}${beforeId ? " AND dl.id < ?" : ""} ORDER BY dl.id DESC LIMIT ?`,
      [...w.args, ...(beforeId ? [beforeId] : []), pageSize],
    )) as unknown as [Record<string, unknown>[]];
    return rows.map(toRow);
  }

  async function get(id: number): Promise<DeadLetterRow | undefined> {
    const [rows] = (await d.db.query(`SELECT ${COLUMNS}, dl.payload FROM ${FROM} WHERE dl.id = ?`, [id])) as unknown as [
      Record<string, unknown>[],
    ];
    return rows[0] ? toRow(rows[0]) : undefined;
  }

  const select = async (sel: Selection): Promise<number[]> => {
    if ("ids" in sel) return [...new Set(sel.ids)].slice(0, MAX_SELECTED);
    const w = where(sel.filter);
    const [rows] = (await d.db.query(`SELECT dl.id FROM dead_letters dl WHERE ${w.sql} ORDER BY dl.id LIMIT ?`, [
      ...w.args,
      MAX_SELECTED,
    ])) as unknown as [{ id: number }[]];
    return rows.map((r) => Number(r.id));
  };

  /**
   * Replays one dead letter in one transaction: a delivery moves dead -> pending (attempts reset) and
   * its message goes to the outbox with a new msgID, <delivery id>:replay:<n> (the broker's dedup
   * window would drop the original id). A delivery that is not dead any more is skipped, which makes
   * replay idempotent.
   */
  const replayOne = (id: number) =>
    withTx(d.db, async (c) => {
      const [rows] = (await c.query("SELECT id, delivery_id, notification_id, subject, payload, replays, uncertain FROM dead_letters WHERE id = ? FOR UPDATE", [
        id,
      ])) as unknown as [{ delivery_id: string | null; notification_id: string | null; subject: string; payload: Buffer; replays: number; uncertain: number }[]];
      const dl = rows[0];
      if (!dl) return false;
      const n = Number(dl.replays) + 1;
      let msgId: string;
      if (dl.delivery_id) {
        const [r] = (await c.query(
          `UPDATE deliveries SET status = ${DeliveryState.Pending}, attempts = 0, lease_until = NULL, retry_at = NULL, last_error = '',
             resent_after_uncertain = resent_after_uncertain + ?, updated_at = CURRENT_TIMESTAMP(3)
           WHERE id = ? AND status = ${DeliveryState.Dead}`,
          [Number(dl.uncertain) === 1 ? 1 : 0, dl.delivery_id],
        )) as unknown as [{ affectedRows: number }];
        if (r.affectedRows !== 1) return false;
        await c.query("INSERT INTO delivery_events (delivery_id, at, status, detail) VALUES (?, CURRENT_TIMESTAMP(3), ?, ?)", [
          dl.delivery_id,
          DeliveryState.Pending,
          `replayed from dead letter ${id}`,
        ]);
        msgId = `${dl.delivery_id}:replay:${n}`;
      } else {
        msgId = `${dl.notification_id ?? `dead-letter-${id}`}:replay:${n}`;
      }
      await c.query("INSERT INTO outbox (topic, msg_id, payload, available_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP(3))", [dl.subject, msgId, dl.payload]);
      await c.query("UPDATE dead_letters SET replays = ?, replayed_at = CURRENT_TIMESTAMP(3) WHERE id = ?", [n, id]);
      return true;
    });

  async function replay(sel: Selection): Promise<{ replayed: number[]; skipped: number }> {
    const ids = await select(sel);
    const replayed: number[] = [];
    for (const id of ids) if (await replayOne(id)) replayed.push(id);
    if (replayed.length) {
      d.kickRelay?.();
      d.log.info({ replayed: replayed.length, skipped: ids.length - replayed.length }, "dead letters replayed");
    }
    return { replayed, skipped: ids.length - replayed.length };
  }

  async function purge(sel: Selection): Promise<number> {
    const ids = await select(sel);
    if (ids.length === 0) return 0;
    const [copies] = (await d.db.query("SELECT dlq_seq FROM dead_letters WHERE id IN (?) AND dlq_seq IS NOT NULL", [ids])) as unknown as [
      { dlq_seq: number }[],
    ];
    const [r] = (await d.db.query("DELETE FROM dead_letters WHERE id IN (?)", [ids])) as unknown as [{ affectedRows: number }];
    // The stream copies expire on their own (max_age); removing them now is a courtesy.
    for (const c of copies) await d.jsm.streams.deleteMessage(t.streams.dlq, Number(c.dlq_seq), false).catch(() => undefined);
    d.log.info({ purged: r.affectedRows }, "dead letters purged");
    return r.affectedRows;
  }

  return { capture, captureMsg, identify, list, get, replay, purge };
}

export type DeadLetters = ReturnType<typeof createDeadLetters>;
