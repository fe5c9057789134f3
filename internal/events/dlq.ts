import { headers as natsHeaders, millis, type JetStreamClient, type JsMsg } from "nats";
import type { Db } from "../store/db.js";
import type { Topology } from "../bus/topology.js";
import type { Logger } from "../log/logger.js";

export const DLQ_SOURCE = "events";
export type DeadKind = "poison" | "max_deliveries";

/** Header values must be one line of printable text. */
const headerValue = (s: string, max = 500) => s.replace(/[^\x20-\x7e]+/g, " ").slice(0, max);

/**
 * Parks an event that cannot be handled on the dead-letter subject `<prefix>.dlq.events`, with the
 * original payload and headers saying why, and records it in dead_letters (the reliability area's
 * table, same columns and headers as its captures), where OpsService lists and replays it. Both
 * writes are idempotent per stored event, so a retried capture keeps one copy.
 */
export function createEventDeadLetters(d: { js: JetStreamClient; db: Db; topology: Topology; log: Logger }) {
  let hasTable: boolean | undefined;
  const tableExists = async () => {
    hasTable ??= await d.db
      .query("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'dead_letters'")
      .then(([rows]) => Number((rows as { n: number }[])[0].n) > 0);
    return hasTable;
  };

  return async function deadLetter(m: JsMsg, kind: DeadKind, error: string, eventType: string): Promise<void> {
    const seq = m.info.streamSequence;
    const publishedAt = new Date(Math.floor(millis(m.info.timestampNanos)));
    const h = natsHeaders();
    h.set("Notify-Dead-Reason", kind);
    h.set("Notify-Error", headerValue(error));
    h.set("Notify-Original-Subject", headerValue(m.subject, 300));
    h.set("Notify-Original-Seq", String(seq));
    h.set("Notify-Event-Type", headerValue(eventType, 100));
    h.set("Notify-Deliveries", String(m.info.deliveryCount));
    const msgId = m.headers?.get("Nats-Msg-Id");
    if (msgId) h.set("Notify-Original-Msg-Id", headerValue(msgId, 200));
    const ct = m.headers?.get("content-type");
    if (ct) h.set("content-type", headerValue(ct, 200));
    const ack = await d.js.publish(d.topology.subjects.dlq(DLQ_SOURCE), m.data, {
      msgID: `dlq:${m.info.stream}:${seq}:${publishedAt.getTime()}`,
      headers: h,
      timeout: 10_000,
    });
    if (await tableExists()) {
      await d.db.query(
        `INSERT IGNORE INTO dead_letters (source, reason, error, stream, stream_seq, subject, published_at, payload, deliveries,
           uncertain, dlq_seq, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, CURRENT_TIMESTAMP(3))`,
        [DLQ_SOURCE, kind, error.slice(0, 1000), m.info.stream, seq, m.subject.slice(0, 200), publishedAt, Buffer.from(m.data), m.info.deliveryCount, ack.seq],
      );
    }
    d.log.warn({ seq, eventType, kind, err: error.slice(0, 300) }, "event dead-lettered");
  };
}
