import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headers as natsHeaders } from "nats";
import { createLogger } from "../log/logger.js";
import { connectBus, ensureConsumer, ensureStreams, type Bus } from "./nats.js";
import { createTopology } from "./topology.js";
import { createConsumerLoop } from "./consumer.js";
import { chunkSize, CHUNK_SIZE_HEADER } from "../delivery/chunks.js";
import { deleteStreams, NATS } from "../../test/harness/platform.js";

// The consumer loop against the real JetStream: with `weigh`, it holds units of work, not messages.

const prefix = `tcons${Date.now().toString(36)}`;
const t = createTopology(prefix);
let bus: Bus;

beforeAll(async () => {
  bus = await connectBus({ url: NATS, topology: t, replicas: 1, name: prefix, log: createLogger({ level: "silent" }) });
  await ensureStreams(bus.jsm, t, 1);
});

afterAll(async () => {
  await bus?.close();
  await deleteStreams(prefix);
});

describe("consumer loop", () => {
  it("with weigh, keeps about `concurrency` units under way, whatever the messages carry", async () => {
    const subject = t.subjects.deliverChunks("email");
    await ensureConsumer(bus.jsm, t.streams.work, { durable: "weighed", filter: subject, maxDeliver: 3, ackWaitMs: 30_000, maxAckPending: 1000 });
    // 20 chunks of 16 units, then 40 of 2.
    const sizes = [...Array<number>(20).fill(16), ...Array<number>(40).fill(2)];
    for (const [i, n] of sizes.entries()) {
      const h = natsHeaders();
      h.set(CHUNK_SIZE_HEADER, String(n));
      await bus.js.publish(subject, new Uint8Array([i]), { headers: h });
    }
    let load = 0;
    let maxLoad = 0;
    let maxMessages = 0;
    let messages = 0;
    let done = 0;
    const loop = createConsumerLoop({
      js: bus.js,
      stream: t.streams.work,
      durable: "weighed",
      concurrency: 32,
      weigh: chunkSize,
      expectedWeight: 16,
      maxDeliver: 3,
      backoffMs: [100, 100],
      ackWaitMs: 30_000,
      log: createLogger({ level: "silent" }),
      async handle(m) {
        const n = chunkSize(m);
        load += n;
        messages++;
        maxLoad = Math.max(maxLoad, load);
        maxMessages = Math.max(maxMessages, messages);
        await new Promise((r) => setTimeout(r, 20));
        load -= n;
        messages--;
        done++;
        return { kind: "ack" };
      },
    });
    loop.start();
    try {
      const t0 = Date.now();
      while (done < sizes.length && Date.now() - t0 < 20_000) await new Promise((r) => setTimeout(r, 20));
      expect(done).toBe(sizes.length);
      // Chunks of 16: two or three at a time, never the whole stream at once; chunks of 2: many at a time.
      expect(maxLoad).toBeLessThanOrEqual(32 + 16);
      expect(maxMessages).toBeGreaterThan(8);
    } finally {
      await loop.stop(1000);
    }
  });
});
