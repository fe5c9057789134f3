import type { Consumer, ConsumerMessages, JetStreamClient, JsMsg } from "nats";
import type { Logger } from "../log/logger.js";
import { isInfrastructureError } from "../reliability/classify.js";

export type Outcome =
  | { kind: "ack" }
  /**
   * Temporary failure: try again after the back-off for this attempt (or delayMs). `notAttempted`
   * says nothing was tried (the row was busy with another worker, held, or the worker is stopping),
   * so running out of deliveries on it does not make the delivery dead. `attempt` is the work's own
   * attempt number when it differs from the broker's count (an attempt made before the message was
   * published: see internal/delivery/local.ts); it decides when the attempts are exhausted.
   */
  | { kind: "retry"; error: string; delayMs?: number; notAttempted?: boolean; attempt?: number }
  /** Permanent failure, recorded by the handler: never redeliver. */
  | { kind: "term"; reason: string }
  /** Poison message (undecodable): goes to the dead letters at once, never blocks the ones behind. */
  | { kind: "poison"; reason: string };

export interface DeadLetterInfo {
  kind: "max_deliveries" | "poison";
  /** The last error. */
  error: string;
  /** Attempts made, when more than the broker counted (see Outcome's retry `attempt`). */
  attempts?: number;
}

export interface ConsumerLoopOptions {
  js: JetStreamClient;
  stream: string;
  durable: string;
  /** Messages processed at once by this process (units of work, when `weigh` is given). */
  concurrency: number;
  /**
   * The units of work a message carries (a chunk's deliveries, internal/delivery/chunks.ts): the loop
   * then holds `concurrency` units, not messages, and sizes each pull by the average weight it has
   * seen (starting from `expectedWeight`), so a process takes about the same work whatever the chunks'
   * sizes and does not pull a whole campaign while another worker waits.
   */
  weigh?(msg: JsMsg): number;
  expectedWeight?: number;
  maxDeliver: number;
  backoffMs: number[];
  ackWaitMs: number;
  log: Logger;
  /** `signal` aborts when the loop stops: a handler waiting for a dependency gives up then. */
  handle(msg: JsMsg, signal: AbortSignal): Promise<Outcome>;
  /**
   * Called for a poison message and instead of a retry when the last attempt failed; the message is
   * then terminated. When it throws, the message is left to the broker (nak), whose max-deliveries
   * advisory is the second chance to capture it.
   */
  onDeadLetter?(msg: JsMsg, info: DeadLetterInfo): Promise<void>;
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A fetch-based pull loop over one durable consumer. Retry delays are chosen per attempt with
 * nak(delay) (see ensureConsumer in nats.ts: ack_wait only detects dead workers); long work is kept
 * alive with working() so a slow send is not redelivered to another worker.
 */
export function createConsumerLoop(o: ConsumerLoopOptions): ConsumerLoop {
  const inflight = new Set<JsMsg>();
  // Units of work under way, and the running average of a message's weight (see `weigh`).
  let load = 0;
  let avgWeight = o.expectedWeight ?? 1;
  const abort = new AbortController();
  let iter: ConsumerMessages | undefined;
  let consumer: Consumer | undefined;
  let running = false;
  let paused = false;
  let stopped = false;
  let waiters: (() => void)[] = [];
  const log = o.log.child({ durable: o.durable });

  const heartbeat = setInterval(() => {
    for (const m of inflight) m.working();
  }, Math.max(250, Math.floor(o.ackWaitMs / 3)));
  heartbeat.unref();

  const deadLetter = async (m: JsMsg, info: DeadLetterInfo) => {
    try {
      await o.onDeadLetter?.(m, info);
      m.term(info.kind === "poison" ? "poison message" : "max deliveries");
    } catch (err) {
      log.error({ err: (err as Error).message, seq: m.info.streamSequence }, "dead-letter capture failed; leaving the message to the broker");
      m.nak(backoffFor(o.backoffMs, m.info.deliveryCount));
    }
  };

  const settle = async (m: JsMsg, out: Outcome) => {
    const attempt = (out.kind === "retry" && out.attempt) || m.info.deliveryCount;
    if (out.kind === "ack") return m.ack();
    if (out.kind === "term") return m.term(out.reason.slice(0, 200));
    if (out.kind === "poison") return deadLetter(m, { kind: "poison", error: out.reason });
    if (attempt >= o.maxDeliver) {
      if (out.notAttempted) {
        // Another worker holds the row, it is held for later, or our infrastructure was down: the row's
        // owner, or the reconciler, settles it.
        log.warn({ seq: m.info.streamSequence, error: out.error }, "last delivery of a message not attempted; the ledger row stays for its owner or the reconciler");
        return m.term("max deliveries (not attempted)");
      }
      return deadLetter(m, { kind: "max_deliveries", error: out.error, attempts: attempt });
    }
    m.nak(out.delayMs ?? backoffFor(o.backoffMs, attempt));
  };

  const process = async (m: JsMsg) => {
    // A message that arrives while shutting down goes straight back to the broker for another worker.
    if (stopped) return m.nak();
    const weight = o.weigh ? Math.max(1, o.weigh(m)) : 1;
    avgWeight += (weight - avgWeight) / 8;
    load += weight;
    inflight.add(m);
    try {
      let out: Outcome;
      try {
        out = await o.handle(m, abort.signal);
      } catch (err) {
        // A handler that throws met trouble before doing its work (the ledger or the broker was
        // unreachable); infrastructure trouble does not count as an attempt.
        out = { kind: "retry", error: (err as Error).message ?? String(err), notAttempted: isInfrastructureError(err) };
      }
      // stop() has handed this message back already.
      if (!inflight.has(m)) return;
      await settle(m, out);
    } catch (err) {
      log.error({ err: (err as Error).message }, "settling a message failed");
    } finally {
      load -= weight;
      inflight.delete(m);
      const w = waiters;
      waiters = [];
      for (const f of w) f();
    }
  };

  // Under load, refilling one slot at a time would cost a pull request per message; waiting until a
  // quarter of the slots is free batches the pulls while keeping the worker busy.
  const refillAt = Math.max(1, Math.floor(o.concurrency / 4));
  const slot = async () => {
    while (o.concurrency - load < refillAt && inflight.size > 0 && !stopped && !paused) {
      await new Promise<void>((r) => waiters.push(r));
    }
  };

  // Pull only as many messages as there are free slots: nothing sits in a client-side buffer, so a
  // pause leaves every waiting message in the stream with its attempt count untouched.
  const run = async () => {
    running = true;
    while (!stopped && !paused) {
      try {
        await slot();
        if (stopped || paused) break;
        // Looked up once, not per pull: the lookup is a broker round trip of its own.
        consumer ??= await o.js.consumers.get(o.stream, o.durable);
        const free = Math.max(1, Math.floor((o.concurrency - load) / avgWeight));
        iter = await consumer.fetch({ max_messages: free, expires: 2000 });
        for await (const m of iter) void process(m);
      } catch (err) {
        if (stopped || paused) break;
        consumer = undefined;
        log.warn({ err: (err as Error).message }, "consumer loop error; retrying in 1 s");
        await sleep(1000);
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
      // Handlers still waiting for a dependency have not started: they give up at once. Sends under
      // way get the grace period. The pull in progress ends within its 2 s expiry; what it still
      // brings is handed back.
      abort.abort(new Error("consumer stopping"));
      while ((inflight.size > 0 || running) && Date.now() < deadline) await sleep(50);
      const rest = [...inflight];
      inflight.clear();
      for (const m of rest) {
        // A message on its last delivery would come back as a MAX_DELIVERIES advisory and be
        // dead-lettered for our shutdown; its ledger row is left to the reconciler instead.
        if (m.info.deliveryCount >= o.maxDeliver) m.term("handed back on shutdown");
        else m.nak();
      }
      if (rest.length > 0) log.info({ handedBack: rest.length }, "in-flight messages handed back to the broker");
      clearInterval(heartbeat);
    },
  };
}
