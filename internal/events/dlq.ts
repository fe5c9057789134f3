import { headers as natsHeaders, type JetStreamClient, type JsMsg } from "nats";
import type { Db } from "../store/db.js";
import type { Topology } from "../bus/topology.js";
import type { Logger } from "../log/logger.js";

export const DLQ_SOURCE = "events";

/** Header values must be one line of printable text. */
const headerValue = (s: string, max = 1000) => s.replace(/[^\x20-\x7e]+/g, " ").slice(0, max);

/**
 * Parks an event that cannot be handled on the dead-letter subject `<prefix>.dlq.events`, with the
 * original payload and headers saying why, so it can be inspected and replayed. When the
 * reliability area's dead_letters table exists, a row goes there as well.
 */
export function createEventDeadLetters(d: { js: JetStreamClient; db: Db; topology: Topology; log: Logger }) {
  let hasTable: boolean | undefined;
  const tableExists = async () => {
    if (hasTable === undefined) {
      const [rows] = (await d.db.query(
        "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'dead_letters'",
      )) as unknown as [{ n: number }[]];
      hasTable = Number(rows[0].n) > 0;
    }
    return hasTable;
  };

  return async function deadLetter(m: JsMsg, reason: string, eventType: string): Promise<void> {
    const seq = m.info.streamSequence;
    const h = natsHeaders();
    h.set("Notify-Dead-Source", DLQ_SOURCE);
    h.set("Notify-Dead-Reason", headerValue(reason));
    h.set("Notify-Dead-Subject", headerValue(m.subject, 300));
    h.set("Notify-Dead-Event-Type", headerValue(eventType, 100));
    h.set("Notify-Dead-Stream-Seq", String(seq));
    h.set("Notify-Dead-Deliveries", String(m.info.deliveryCount));
    h.set("Notify-Dead-At", new Date().toISOString());
    const ct = m.headers?.get("content-type");
    if (ct) h.set("content-type", headerValue(ct, 200));
    const msgId = m.headers?.get("Nats-Msg-Id");
    if (msgId) h.set("Notify-Dead-Msg-Id", headerValue(msgId, 200));
    // One dead letter per stored event however often the capture is retried.
    await d.js.publish(d.topology.subjects.dlq(DLQ_SOURCE), m.data, { msgID: `events-${d.topology.streams.events}-${seq}`, headers: h, timeout: 10_000 });
    d.log.warn({ seq, eventType, reason: reason.slice(0, 300) }, "event dead-lettered");
    if (await tableExists().catch(() => false)) await recordRow(d.db, m, reason, d.log);
  };
}

/**
 * Best effort: the dead_letters table belongs to the reliability area and its columns may differ;
 * the DLQ stream already holds the message, so a failed insert is only logged.
 */
async function recordRow(db: Db, m: JsMsg, reason: string, log: Logger) {
  try {
    await db.query(
      "INSERT INTO dead_letters (source, subject, payload, reason, stream_seq, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      [DLQ_SOURCE, m.subject, Buffer.from(m.data), reason.slice(0, 1000), m.info.streamSequence, new Date()],
    );
  } catch (err) {
    log.warn({ err: (err as Error).message }, "dead_letters row not written; the DLQ stream holds the event");
  }
}
