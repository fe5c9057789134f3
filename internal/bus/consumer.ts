import type { ConsumerMessages, JetStreamClient, JsMsg } from "nats";
import type { Logger } from "../log/logger.js";

export type Outcome =
  | { kind: "ack" }
  /** Temporary failure: try again after the back-off for this attempt (or delayMs). */
  | { kind: "retry"; error: string; delayMs?: number }
  /** Permanent failure or poison message: never redeliver. */
  | { kind: "term"; reason: string };

export interface ConsumerLoopOptions {
  js: JetStreamClient;
  stream: string;
  durable: string;
  /** Messages processed at once by this process. */
  concurrency: number;
  maxDeliver: number;
  backoffMs: number[];
  ackWaitMs: number;
  log: Logger;
  handle(msg: JsMsg): Promise<Outcome>;
  /** Called instead of a retry when the last attempt failed; the message is then terminated. */
  onExhausted?(msg: JsMsg, error: string): Promise<void>;
}

export interface ConsumerLoop {
  start(): void;
  /** Stops pulling; messages in flight finish. Messages in the stream wait, attempts are not burned. */
  pause(): void;
  resume(): void;
  readonly paused: boolean;
  readonly inFlight: number;
  /** Stops pulling, waits for in-flight work up to graceMs, then hands the rest back to the broker. */
  stop(graceMs: number): Promise<void>;
}

/** Delay before attempt n+1 after attempt n (1-based) failed. */
export function backoffFor(backoffMs: number[], attempt: number): number {
  if (backoffMs.length === 0) return 1000;
  return backoffMs[Math.min(attempt - 1, backoffMs.length - 1)];
}

export function createConsumerLoop(o: ConsumerLoopOptions): ConsumerLoop {
  const inflight = new Set<JsMsg>();
  let iter: ConsumerMessages | undefined;
  let running = false;
  let paused = false;
  let stopped = false;
  let waiters: (() => void)[] = [];
  const log = o.log.child({ durable: o.durable });

  // Keep long-running messages alive so a slow send is not redelivered to another worker.
  const heartbeat = setInterval(() => {
    for (const m of inflight) m.working();
  }, Math.max(250, Math.floor(o.ackWaitMs / 3)));
  heartbeat.unref();

  const settle = async (m: JsMsg, out: Outcome) => {
    const attempt = m.info.redeliveryCount;
    if (out.kind === "ack") return m.ack();
    if (out.kind === "term") return m.term(out.reason.slice(0, 200));
    if (attempt >= o.maxDeliver) {
      try {
        await o.onExhausted?.(m, out.error);
        m.term("max deliveries");
      } catch (err) {
        log.error({ err }, "dead-letter capture failed; leaving for redelivery");
        m.nak(backoffFor(o.backoffMs, attempt));
      }
      return;
    }
    m.nak(out.delayMs ?? backoffFor(o.backoffMs, attempt));
  };

  const process = async (m: JsMsg) => {
    // A message that arrives while shutting down goes straight back to the broker for another worker.
    if (stopped) return m.nak();
    inflight.add(m);
    try {
      let out: Outcome;
      try {
        out = await o.handle(m);
      } catch (err) {
        out = { kind: "retry", error: (err as Error).message ?? String(err) };
      }
      await settle(m, out);
    } catch (err) {
      log.error({ err }, "settling a message failed");
    } finally {
      inflight.delete(m);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  };

  const slot = () =>
    inflight.size < o.concurrency ? Promise.resolve() : new Promise<void>((r) => waiters.push(r));

  // Pull only as many messages as there are free slots: nothing sits in a client-side buffer, so a
  // pause leaves every waiting message in the stream with its attempt count untouched.
  const run = async () => {
    running = true;
    while (!stopped && !paused) {
      try {
        await slot();
        if (stopped || paused) break;
        const consumer = await o.js.consumers.get(o.stream, o.durable);
        const free = Math.max(1, o.concurrency - inflight.size);
        iter = await consumer.fetch({ max_messages: free, expires: 2000 });
        for await (const m of iter) void process(m);
      } catch (err) {
        if (stopped || paused) break;
        log.warn({ err: (err as Error).message }, "consumer loop error; retrying in 1 s");
        await new Promise((r) => setTimeout(r, 1000));
      } finally {
        iter = undefined;
      }
    }
    running = false;
  };

  return {
    start() {
      if (!running && !stopped) void run();
    },
    pause() {
      if (paused) return;
      paused = true;
      log.info("consumer paused");
    },
    resume() {
      if (!paused || stopped) return;
      paused = false;
      log.info("consumer resumed");
      if (!running) void run();
    },
    get paused() {
      return paused;
    },
    get inFlight() {
      return inflight.size;
    },
    async stop(graceMs: number) {
      stopped = true;
      const deadline = Date.now() + graceMs;
      while (inflight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      for (const m of inflight) m.nak();
      clearInterval(heartbeat);
    },
  };
}
