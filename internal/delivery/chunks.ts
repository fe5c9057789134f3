import type { JetStreamClient } from "nats";
import { publishAll, type OutMessage } from "../bus/publish.js";
import type { Topology } from "../bus/topology.js";
import { createBatcher } from "../store/batcher.js";

/** The deliveries a chunk carries, for a consumer that counts its work in deliveries (bus/consumer.ts `weigh`). */
export const CHUNK_SIZE_HEADER = "Notify-Deliveries";

/** The deliveries a message on a chunk subject carries (1 when it does not say). */
export const chunkSize = (m: { headers?: { get(k: string): string } }): number => Number(m.headers?.get(CHUNK_SIZE_HEADER)) || 1;

/**
 * The chunk size to publish with: NOTIFY_DELIVERY_CHUNK, or 1 (a message each) when a delivery has a
 * single attempt (no retry schedule), since a chunk's entry to try again would get a second.
 */
export const chunkSizeFor = (chunk: number, retryDelays: number): number => (retryDelays > 0 ? chunk : 1);

/**
 * A broker message per delivery costs both sides a publish, its acknowledgement, a delivery and an
 * ack. Deliveries published together therefore travel in chunks: a JSON array of delivery messages on
 * the channel's chunk subject (its own consumer, which counts deliveries), whose entries the worker
 * attempts side by side; each delivery keeps its own ledger row, claim, retries (as messages of their
 * own) and dead letter (worker.ts). Messages for other subjects, and messages with headers, pass
 * through unchanged; a group of one stays an ordinary message.
 *
 * `size`: deliveries per chunk, at most (a few hundred bytes each, far below the broker's payload
 * limit at the largest allowed). The input is what the planner publishes (one delivery message per
 * OutMessage, in order); chunks follow that order per channel. A chunk's msgId names its first and
 * last delivery, so publishing the same slice twice stores it once.
 */
export function chunkDeliveries(msgs: readonly OutMessage[], t: Topology, size: number): OutMessage[] {
  if (size <= 1) return [...msgs];
  const out: OutMessage[] = [];
  const open = new Map<string, OutMessage[]>();
  const close = (subject: string, group: OutMessage[]) => {
    if (group.length === 1) return out.push(group[0]);
    const channel = t.subjects.channelOf(subject)!;
    const parts: Uint8Array[] = [OPEN];
    group.forEach((m, i) => {
      if (i > 0) parts.push(COMMA);
      parts.push(m.data);
    });
    parts.push(CLOSE);
    out.push({
      subject: t.subjects.deliverChunks(channel),
      msgId: `${group[0].msgId}..${group.at(-1)!.msgId}`,
      data: Buffer.concat(parts),
      headers: { [CHUNK_SIZE_HEADER]: String(group.length) },
    });
  };
  for (const m of msgs) {
    const channel = t.subjects.channelOf(m.subject);
    if (m.headers || channel === undefined || m.subject !== t.subjects.deliver(channel)) {
      out.push(m);
      continue;
    }
    let group = open.get(m.subject);
    if (!group) open.set(m.subject, (group = []));
    group.push(m);
    if (group.length >= size) {
      close(m.subject, group);
      open.delete(m.subject);
    }
  }
  for (const [subject, group] of open) close(subject, group);
  return out;
}

const OPEN = Buffer.from("[");
const COMMA = Buffer.from(",");
const CLOSE = Buffer.from("]");

/**
 * The planner's publish (runtime's planner role): the delivery messages of notifications planned at about the
 * same moment (concurrent Sends, the planner consumer's parallel requests) share chunks. A message
 * leaves at the end of the event loop's turn, alone when nothing else is ready; while two publishes
 * await their acknowledgements, what comes meanwhile gathers for the next. Each caller resolves once
 * its own messages are stored, or fails with its batch's error, as publishAll does.
 */
export function coalescingPublisher(js: JetStreamClient, t: Topology, size: number): (msgs: OutMessage[]) => Promise<unknown> {
  const one = createBatcher<OutMessage, undefined>({
    maxItems: 512,
    maxConcurrent: 2,
    run: async (items) => {
      await publishAll(js, chunkDeliveries(items, t, size));
      return items.map(() => undefined);
    },
  });
  return (msgs) => Promise.all(msgs.map(one));
}
