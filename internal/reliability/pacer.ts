export interface PacerOptions {
  /** Read on every refill, so a rate change applies at the next tick. */
  rate: () => number;
  /** Checked while waiting; throws (a campaign paused or cancelled) to abandon the wait. */
  check?: () => void;
  /**
   * Burst allowance in seconds of rate (default 0.5 s): tokens of an event-loop stall up to this long
   * are not lost, and no more than this much of the rate ever goes out at once.
   */
  burstSeconds?: number;
}

const MAX_WAIT_MS = 100;

/**
 * A token bucket whose rate can change while it runs. take() hands out up to `max` tokens once at
 * least one is available; waits are capped at 100 ms so a rate change, a pause or a cancel is seen
 * within that time.
 */
export function createPacer(o: PacerOptions) {
  let tokens = 0;
  let last = performance.now();
  const refill = () => {
    const now = performance.now();
    const rate = Math.max(o.rate(), 0.001);
    const cap = Math.max(1, rate * (o.burstSeconds ?? 0.5));
    tokens = Math.min(cap, tokens + ((now - last) * rate) / 1000);
    last = now;
    return rate;
  };
  return {
    async take(max: number): Promise<number> {
      for (;;) {
        o.check?.();
        const rate = refill();
        if (tokens >= 1) {
          const n = Math.min(Math.floor(tokens), max);
          tokens -= n;
          return n;
        }
        const wait = Math.min(MAX_WAIT_MS, Math.max(2, Math.ceil(((1 - tokens) * 1000) / rate)));
        await new Promise((r) => setTimeout(r, wait));
      }
    },
  };
}

export type Pacer = ReturnType<typeof createPacer>;

