import type { JetStreamManager, NatsConnection, Subscription } from "nats";
import type { Topology } from "../bus/topology.js";
import type { Ledger } from "../delivery/ledger.js";
import type { Logger } from "../log/logger.js";
import { DeliveryState, FINAL_STATES } from "../notification/model.js";
import type { Db } from "../store/db.js";
import type { DeadLetters } from "./dead-letters.js";

export interface AdvisoryDeps {
  nc: NatsConnection;
  jsm: JetStreamManager;
  topology: Topology;
  db: Db;
  ledger: Ledger;
  deadLetters: DeadLetters;
  log: Logger;
}

interface MaxDeliveriesAdvisory {
  stream: string;
  consumer: string;
  stream_seq: number;
  deliveries: number;
}

/** The broker's notice that a message ran out of deliveries, for every consumer of the work stream. */
export function maxDeliveriesSubject(t: Topology): string {
  return `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${t.streams.work}.*`;
}

/**
 * The second way into the dead letters. The consumer loop captures what it gives up on itself; this
 * catches the rest: a worker that died (or lost the broker) during a message's last delivery, or a
 * capture that failed. The broker then announces MAX_DELIVERIES and keeps the message in the
 * work-queue stream; one process of the queue group reads it, marks its delivery dead, captures it and
 * removes it from the stream.
 */
export function startAdvisoryCapture(d: AdvisoryDeps): { stop(): void } {
  const sub: Subscription = d.nc.subscribe(maxDeliveriesSubject(d.topology), { queue: `${d.topology.prefix}-dead-letters` });
  const log = d.log.child({ part: "max-deliveries-advisory" });

  const handle = async (a: MaxDeliveriesAdvisory) => {
    let sm;
    try {
      sm = await d.jsm.streams.getMessage(a.stream, { seq: a.stream_seq });
    } catch {
      return; // gone: settled or captured already
    }
    const who = d.deadLetters.identify(sm.subject, sm.data);
    let uncertain = false;
    let error = `no acknowledgement after ${a.deliveries} deliveries`;
    let markDead = false;
    if (who.deliveryId) {
      const [rows] = (await d.db.query("SELECT status, last_error FROM deliveries WHERE id = ?", [who.deliveryId])) as unknown as [
        { status: number; last_error: string }[],
      ];
      const row = rows[0];
      if (row && FINAL_STATES.includes(row.status) && row.status !== DeliveryState.Dead) {
        // Settled after all (sent, failed...): only the broker's copy is left over.
        await d.jsm.streams.deleteMessage(a.stream, a.stream_seq, false).catch(() => undefined);
        return;
      }
      if (row && row.status === DeliveryState.Sending) {
        uncertain = true;
        error = "the worker stopped during the last attempt; the recipient may have received it";
      } else if (row?.last_error) {
        error = row.last_error;
      }
      markDead = row !== undefined && row.status !== DeliveryState.Dead;
    }
    // Captured first: if marking the delivery fails, its row is still pending and the reconciler
    // finds it; the other order could leave a dead delivery with no dead letter to replay.
    await d.deadLetters.capture({
      kind: "max_deliveries",
      error,
      stream: a.stream,
      seq: a.stream_seq,
      subject: sm.subject,
      publishedAt: sm.time,
      data: sm.data,
      deliveries: a.deliveries,
      uncertain,
    });
    if (markDead && who.deliveryId) await d.ledger.finish(who.deliveryId, DeliveryState.Dead, `retries exhausted: ${error}`);
    await d.jsm.streams.deleteMessage(a.stream, a.stream_seq, false).catch(() => undefined);
    log.info({ consumer: a.consumer, seq: a.stream_seq, deliveryId: who.deliveryId }, "captured a message from the max-deliveries advisory");
  };

  void (async () => {
    for await (const m of sub) {
      let a: MaxDeliveriesAdvisory;
      try {
        a = JSON.parse(new TextDecoder().decode(m.data)) as MaxDeliveriesAdvisory;
      } catch {
        continue;
      }
      // A failure here leaves the message in the stream; the reconciler still finds its delivery.
      await handle(a).catch((err) => log.error({ err: (err as Error).message, seq: a.stream_seq }, "advisory capture failed"));
    }
  })();
  return { stop: () => sub.unsubscribe() };
}
