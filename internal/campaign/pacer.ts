import type { JetStreamClient } from "nats";
import { publishAll, type OutMessage } from "../bus/publish.js";

/** Thrown inside a fan-out when its campaign was paused or cancelled, or its lease was lost. */
export class FanoutStopped extends Error {
  constructor(readonly reason: "paused" | "cancelled" | "lease_lost" | "shutdown") {
    super(`fan-out stopped: ${reason}`);
  }
}

export interface PacerOptions {
  /** Read on every refill, so a rate change applies at the next tick. */
  rate: () => number;
  /** Checked while waiting; throws (e.g. FanoutStopped) to abandon the wait. */
  check?: () => void;
  /** Burst allowance in seconds of rate (default 0.1 s). */
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
    const cap = Math.max(1, rate * (o.burstSeconds ?? 0.1));
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

/**
 * A publish function for planner.record that spends one token per message: the broker sees the
 * campaign's rate, not the page size. Each granted slice is published with publishAll's bounded
 * window; onPublished counts what the broker acknowledged.
 */
export function pacedPublisher(js: JetStreamClient, pacer: Pacer, onPublished: (n: number) => void) {
  return async (msgs: OutMessage[]) => {
    for (let i = 0; i < msgs.length; ) {
      const n = await pacer.take(Math.min(msgs.length - i, 256));
      await publishAll(js, msgs.slice(i, i + n));
      onPublished(n);
      i += n;
    }
  };
}
