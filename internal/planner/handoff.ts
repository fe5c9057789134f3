import type { Logger } from "../log/logger.js";
import type { NotificationRow } from "../notification/queries.js";

/**
 * Hands notifications accepted by this process's API straight to the planner in the same process,
 * instead of sending each one through the relay, the broker and back. The outbox row is still written
 * in the accept transaction, only with its publication `graceMs` ahead: the planner deletes it once the
 * notification is planned, and if planning here fails or the process dies first, the relay publishes it
 * when the grace is over and any planner takes it from the broker as before. Planning twice is harmless
 * (derived ids, INSERT IGNORE, msgID dedup), so a slow handoff that the relay overtakes costs work, not
 * correctness.
 */
export interface Handoff {
  /** How long the relay leaves a handed-off request's outbox row alone. */
  readonly graceMs: number;
  /** False while `maxInFlight` handoffs are under way: new notifications then take the broker path. */
  accepting(): boolean;
  /** Called after the commit with the rows of the notifications it created (planned from them, unread). */
  take(rows: readonly NotificationRow[]): void;
  /** Resolves when the handoffs under way have finished (shutdown). */
  drain(): Promise<void>;
}

export function createHandoff(d: {
  planHere(n: NotificationRow): Promise<void>;
  log: Logger;
  graceMs: number;
  maxInFlight: number;
  observe?: (outcome: "planned" | "failed") => void;
}): Handoff {
  const inFlight = new Set<Promise<void>>();
  return {
    graceMs: d.graceMs,
    accepting: () => inFlight.size < d.maxInFlight,
    take(rows) {
      for (const n of rows) {
        const p = d
          .planHere(n)
          .then(() => d.observe?.("planned"))
          .catch((err: Error) => {
            d.observe?.("failed");
            d.log.warn({ notificationId: n.id, err: err.message, retryInMs: d.graceMs }, "planning in this process failed; the relay publishes the request");
          })
          .finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    },
    async drain() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
  };
}
