import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  connect,
  nanos,
  type JetStreamClient,
  type JetStreamManager,
  type NatsConnection,
} from "nats";
import type { Logger } from "../log/logger.js";
import type { Topology } from "./topology.js";

export interface Bus {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  topology: Topology;
  close(): Promise<void>;
}

export interface BusOptions {
  url: string;
  topology: Topology;
  replicas: number;
  name: string;
  log: Logger;
}

export async function connectBus(opts: BusOptions): Promise<Bus> {
  const nc = await connect({
    servers: opts.url.split(","),
    name: opts.name,
    // Keep trying forever: a broker restart must not end the process; the work waits in MariaDB.
    maxReconnectAttempts: -1,
    reconnectTimeWait: 500,
    waitOnFirstConnect: true,
    // Every publish is a request; capturing a stack for each one cost a tenth of the worker's CPU
    // at saturation (bench/instant.ts profile), and our errors carry their own context.
    noAsyncTraces: true,
  });
  (async () => {
    for await (const s of nc.status()) {
      if (s.type === "disconnect" || s.type === "reconnect" || s.type === "error") {
        opts.log.warn({ nats: s.type, data: undefined, server: String(s.data) }, "nats connection status");
      }
    }
  })().catch(() => undefined);
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  return {
    nc,
    js,
    jsm,
    topology: opts.topology,
    close: async () => {
      await nc.drain().catch(() => nc.close());
    },
  };
}

export interface ConsumerSpec {
  durable: string;
  filter: string;
  maxDeliver: number;
  ackWaitMs: number;
  maxAckPending: number;
}

/**
 * Creates or updates streams idempotently, so whichever process starts first sets them up and the
 * others find them ready.
 */
export async function ensureStreams(jsm: JetStreamManager, t: Topology, replicas: number): Promise<void> {
  const base = { storage: StorageType.File, num_replicas: replicas, duplicate_window: nanos(120_000) };
  await upsertStream(jsm, {
    ...base,
    name: t.streams.work,
    subjects: [t.subjects.requests, t.subjects.deliverAll],
    // Work-queue retention: an acknowledged message is gone; unacknowledged ones wait for a worker.
    retention: RetentionPolicy.Workqueue,
    discard: DiscardPolicy.New,
  });
  await upsertStream(jsm, {
    ...base,
    name: t.streams.events,
    subjects: [t.subjects.eventsAll],
    retention: RetentionPolicy.Limits,
    max_age: nanos(7 * 24 * 3600_000),
  });
  await upsertStream(jsm, {
    ...base,
    name: t.streams.dlq,
    subjects: [t.subjects.dlqAll],
    retention: RetentionPolicy.Limits,
    max_age: nanos(30 * 24 * 3600_000),
  });
}

async function upsertStream(jsm: JetStreamManager, cfg: Parameters<JetStreamManager["streams"]["add"]>[0]) {
  try {
    await jsm.streams.info(cfg.name!);
    await jsm.streams.update(cfg.name!, cfg);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(cfg);
    } catch (addErr) {
      // Another process created it between our lookup and add.
      if (!String((addErr as Error).message).includes("already in use")) throw addErr;
    }
  }
}

export async function ensureConsumer(jsm: JetStreamManager, stream: string, spec: ConsumerSpec): Promise<void> {
  const cfg = {
    durable_name: spec.durable,
    filter_subject: spec.filter,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    // Retry delays are chosen per attempt with nak(delay); ack_wait only detects a worker that died
    // holding a message. Server-side `backoff` would replace ack_wait with the first retry delay and
    // tie crash detection to the retry schedule (nats-server 2.9).
    ack_wait: nanos(spec.ackWaitMs),
    max_deliver: spec.maxDeliver,
    max_ack_pending: spec.maxAckPending,
  };
  try {
    await jsm.consumers.info(stream, spec.durable);
    await jsm.consumers.update(stream, spec.durable, cfg);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.consumers.add(stream, cfg);
    } catch (addErr) {
      if (!String((addErr as Error).message).includes("already")) throw addErr;
    }
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string; api_error?: { err_code?: number }; message?: string };
  return e?.code === "404" || e?.api_error?.err_code === 10059 || e?.api_error?.err_code === 10014 || /not found/i.test(e?.message ?? "");
}
