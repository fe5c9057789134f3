import type { Db } from "../store/db.js";
import type { Logger } from "../log/logger.js";

type Counter = "received" | "unmatched" | "dead";

/**
 * Counters per event type, kept in memory and added to MariaDB every few seconds: one UPDATE per
 * type per flush instead of a hot row touched by every event.
 */
export function createEventStats(db: Db, log: Logger, flushMs = 2000) {
  let pending = new Map<string, { received: number; unmatched: number; dead: number; lastAt: Date }>();
  let flushing: Promise<void> | undefined;

  const flush = async () => {
    if (flushing) return flushing;
    if (pending.size === 0) return;
    const batch = pending;
    pending = new Map();
    flushing = (async () => {
      try {
        await db.query(
          `INSERT INTO event_counts (event_type, received, unmatched, dead, last_at) VALUES ?
           ON DUPLICATE KEY UPDATE received = received + VALUES(received), unmatched = unmatched + VALUES(unmatched),
             dead = dead + VALUES(dead), last_at = GREATEST(COALESCE(last_at, VALUES(last_at)), VALUES(last_at))`,
          [[...batch].map(([t, c]) => [t, c.received, c.unmatched, c.dead, c.lastAt])],
        );
      } catch (err) {
        // Put the counts back; they go out with the next flush.
        for (const [t, c] of batch) {
          const p = pending.get(t);
          if (p) {
            p.received += c.received;
            p.unmatched += c.unmatched;
            p.dead += c.dead;
          } else pending.set(t, c);
        }
        log.warn({ err: (err as Error).message }, "event counters not saved; retrying later");
      } finally {
        flushing = undefined;
      }
    })();
    return flushing;
  };

  const timer = setInterval(() => void flush(), flushMs);
  timer.unref();

  return {
    add(type: string, counter: Counter) {
      let c = pending.get(type);
      if (!c) pending.set(type, (c = { received: 0, unmatched: 0, dead: 0, lastAt: new Date() }));
      c[counter]++;
      if (counter === "received") c.lastAt = new Date();
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}

export type EventStats = ReturnType<typeof createEventStats>;

export interface EventTypeCounts {
  eventType: string;
  received: number;
  unmatched: number;
  dead: number;
  lastAt: Date | null;
}

export async function readEventCounts(db: Db): Promise<EventTypeCounts[]> {
  const [rows] = (await db.query("SELECT event_type, received, unmatched, dead, last_at FROM event_counts ORDER BY event_type")) as unknown as [
    { event_type: string; received: number; unmatched: number; dead: number; last_at: Date | null }[],
  ];
  return rows.map((r) => ({
    eventType: r.event_type,
    received: Number(r.received),
    unmatched: Number(r.unmatched),
    dead: Number(r.dead),
    lastAt: r.last_at,
  }));
}
