import type { JetStreamClient } from "nats";
import { publishAll, type OutMessage } from "../bus/publish.js";
import type { Pacer } from "../reliability/pacer.js";

/** Thrown inside a fan-out when its campaign was paused or cancelled, or its lease was lost. */
export class FanoutStopped extends Error {
  constructor(readonly reason: "paused" | "cancelled" | "lease_lost" | "shutdown") {
    super(`fan-out stopped: ${reason}`);
  }
}

/**
 * A publish function for planner.record that spends one token per delivery: the broker sees the
 * campaign's rate, not the page size. Each granted slice is packed by `pack` (chunks of deliveries,
 * delivery/chunks.ts: packed after pacing, so a slow campaign is never held back to fill a chunk) and
 * published with publishAll's bounded window; onPublished counts the deliveries the broker acknowledged.
 */
export function pacedPublisher(
  js: JetStreamClient,
  pacer: Pacer,
  onPublished: (n: number) => void,
  pack: (msgs: OutMessage[]) => OutMessage[] = (msgs) => msgs,
) {
  return async (msgs: OutMessage[]) => {
    for (let i = 0; i < msgs.length; ) {
      const n = await pacer.take(Math.min(msgs.length - i, 256));
      await publishAll(js, pack(msgs.slice(i, i + n)));
      onPublished(n);
      i += n;
    }
  };
}
