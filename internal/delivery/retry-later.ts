import { encodeJson } from "../bus/publish.js";
import type { DeliverMessage } from "../notification/model.js";
import type { Db } from "../store/db.js";

/** A delivery to try again later: its message, when, and the attempts made so far. */
export interface LaterRetry {
  msg: DeliverMessage;
  delayMs: number;
  /** Attempts already made; the broker's count starts again at 1 on the message published. */
  k: number;
}

/**
 * Schedules deliveries that were attempted without a broker message of their own (the ones a planner
 * delivers in its own process, local.ts, and the entries of a chunk, chunks.ts): the outbox publishes
 * each one on `subject`, due after its delay, as a message of its own that carries the attempts made,
 * so the back-off and the dead letter after MaxDeliver count them as the broker would have. One
 * statement for all of them. The msgId names the attempt count, so an id the broker may still hold
 * for dedup from an earlier copy is not reused.
 */
export async function retryThroughOutbox(db: Db, subject: string, items: readonly LaterRetry[]): Promise<void> {
  if (items.length === 0) return;
  const now = Date.now();
  await db.query("INSERT INTO outbox (topic, msg_id, payload, available_at) VALUES ?", [
    items.map(({ msg, delayMs, k }) => [subject, `${msg.d}:k${k}`, Buffer.from(encodeJson({ ...msg, k } satisfies DeliverMessage)), new Date(now + delayMs)]),
  ]);
}
