/**
 * Visits each member once per period, a slice of them at a time. Pinging every connection in one
 * timer turn stalls the event loop for as long as thousands of socket writes take (5,000 connections:
 * a burst of writes every 30 s in the gateway, and as many pongs arriving at once), and every
 * notification in flight waits behind it. Spread over the period, each tick costs a few writes.
 */
export interface Heartbeat<T> {
  add(member: T): void;
  delete(member: T): void;
  stop(): void;
}

/** Ticks at least this far apart: finer slices would only add timer wake-ups. */
const MIN_TICK_MS = 100;

export function createHeartbeat<T>(o: { periodMs: number; visit: (member: T) => void }): Heartbeat<T> {
  const slices = Math.max(1, Math.floor(o.periodMs / MIN_TICK_MS));
  const groups = Array.from({ length: slices }, () => new Set<T>());
  const slot = new Map<T, number>();
  let nextSlot = 0;
  let tick = 0;
  const timer = setInterval(() => {
    // A member that leaves during its own visit (terminated) is removed from the set being walked;
    // Set iteration allows that.
    for (const m of groups[tick]) o.visit(m);
    tick = (tick + 1) % slices;
  }, o.periodMs / slices);
  timer.unref();
  return {
    add(member) {
      if (slot.has(member)) return;
      const i = nextSlot;
      nextSlot = (nextSlot + 1) % slices;
      slot.set(member, i);
      groups[i].add(member);
    },
    delete(member) {
      const i = slot.get(member);
      if (i === undefined) return;
      slot.delete(member);
      groups[i].delete(member);
    },
    stop() {
      clearInterval(timer);
    },
  };
}
