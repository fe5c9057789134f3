import type { Logger } from "../log/logger.js";
import type { DeliverMessage } from "../notification/model.js";
import type { Db } from "../store/db.js";
import type { DeliveryWorker } from "./worker.js";
import { retryThroughOutbox } from "./retry-later.js";

/**
 * Delivers, in the process that planned them, the deliveries of the Sends this process accepted
 * (planner/handoff.ts), when it also runs the worker for their channel: the planner inserts such a row
 * already claimed (sending, attempt 1, leased) and hands the message here instead of publishing it,
 * which saves the broker's round trip and the claim's. What the broker gave the other path is kept:
 *  - a temporary failure leaves through the outbox, due after the back-off, as a message that carries
 *    this attempt (`k`), so the retries and the dead letter after MaxDeliver count it;
 *  - a process that dies mid-attempt leaves a `sending` row whose lease runs out, which the reconciler
 *    publishes again (counted as resent after uncertain), as for a worker that dies.
 * Bounded by `maxInFlight` and by the worker's gates: beyond them, and while a dependency is down, the
 * planner publishes to the broker as before.
 */
export interface LocalDelivery {
  /** The lease the planner gives a row it inserts claimed (the worker's NOTIFY_LEASE). */
  readonly leaseMs: number;
  /** True when one more delivery may be taken here now; taking it reserves its place. */
  reserve(): boolean;
  /** Runs a reserved delivery; never rejects. */
  deliver(msg: DeliverMessage): Promise<void>;
  /** Gives back a reservation that was not used (the row already existed). */
  unreserve(): void;
}

export function createLocalDelivery(o: {
  worker: Pick<DeliveryWorker, "deliverClaimed" | "ready">;
  db: Db;
  /** The subject a retry is published on (the channel's deliver subject). */
  subject: string;
  leaseMs: number;
  maxInFlight: number;
  log: Logger;
  observe?: (channel: string, outcome: "delivered" | "retry" | "error") => void;
}): LocalDelivery {
  let inFlight = 0;
  return {
    leaseMs: o.leaseMs,
    reserve() {
      if (inFlight >= o.maxInFlight || !o.worker.ready()) return false;
      inFlight++;
      return true;
    },
    unreserve() {
      inFlight--;
    },
    async deliver(msg) {
      try {
        const out = await o.worker.deliverClaimed(msg);
        if (out.kind === "retry") {
          await retryThroughOutbox(o.db, o.subject, [{ msg, delayMs: out.delayMs ?? 0, k: out.notAttempted ? 0 : 1 }]);
          o.observe?.(msg.ch, "retry");
        } else {
          o.observe?.(msg.ch, "delivered");
        }
      } catch (err) {
        // The row is left `sending` (lease) or `pending` (released, retry due): either way the reconciler
        // publishes it again once it is overdue.
        o.observe?.(msg.ch, "error");
        o.log.warn({ deliveryId: msg.d, err: (err as Error).message }, "local delivery failed; the reconciler publishes it again");
      } finally {
        inFlight--;
      }
    },
  };
}
