import type { JetStreamManager } from "nats";
import type { ConsumerLoop } from "../bus/consumer.js";
import type { Channel } from "../channel/channel.js";
import type { Logger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import type { PlatformMetrics } from "./metrics.js";

type Gauges = PlatformMetrics["gauges"];

export interface Poller {
  /** Polls now, then every intervalMs; never two rounds at once. */
  start(): void;
  /** One round (tests call it instead of waiting). */
  pollOnce(): Promise<void>;
  stop(): Promise<void>;
}

/** Runs `round` every intervalMs; a failing round is counted, logged once per outage, and retried. */
export function createPoller(name: string, intervalMs: number, round: () => Promise<void>, g: Gauges, log: Logger): Poller {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let failing = false;
  const pollOnce = async () => {
    try {
      await round();
      if (failing) log.info({ poller: name }, "metrics poll recovered");
      failing = false;
    } catch (err) {
      g.pollErrors.inc({ source: name });
      if (!failing) log.warn({ poller: name, err: (err as Error).message }, "metrics poll failed");
      failing = true;
    }
  };
  const loop = () => {
    running = pollOnce().finally(() => {
      running = undefined;
      if (!stopped) timer = setTimeout(loop, intervalMs).unref();
    });
  };
  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    pollOnce,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/**
 * Stream sizes and per-durable backlog from JetStream. The numbers are the broker's, so every process
 * reports the same values; aggregate with max(), not sum().
 */
export function natsRound(jsm: JetStreamManager, streams: string[], g: Gauges): () => Promise<void> {
  return async () => {
    const stream: [string, number][] = [];
    const consumers: { labels: { stream: string; durable: string }; pending: number; ack: number; redelivered: number }[] = [];
    for (const name of streams) {
      let info;
      try {
        info = await jsm.streams.info(name);
      } catch (err) {
        if (/not found/i.test((err as Error).message)) continue;
        throw err;
      }
      stream.push([name, info.state.messages]);
      for await (const c of jsm.consumers.list(name)) {
        consumers.push({
          labels: { stream: name, durable: c.name },
          pending: c.num_pending,
          ack: c.num_ack_pending,
          redelivered: c.num_redelivered,
        });
      }
    }
    // Replace everything at once, so a durable that was deleted disappears instead of going stale.
    g.streamMessages.reset();
    g.consumerPending.reset();
    g.consumerAckPending.reset();
    g.consumerRedelivered.reset();
    for (const [name, n] of stream) g.streamMessages.set({ stream: name }, n);
    for (const c of consumers) {
      g.consumerPending.set(c.labels, c.pending);
      g.consumerAckPending.set(c.labels, c.ack);
      g.consumerRedelivered.set(c.labels, c.redelivered);
    }
  };
}

/**
 * In-process state, read at scrape time: each channel's dependency states (breakers) and whether the
 * consumer loops run or are paused.
 */
export function collectLocalState(channels: ReadonlyMap<string, Channel>, loops: ReadonlyMap<string, ConsumerLoop>, g: Gauges): void {
  g.dependencyState.reset();
  for (const [name, ch] of channels) {
    for (const [dependency, state] of Object.entries(ch.status?.() ?? {})) {
      g.dependencyState.set({ channel: name, dependency, state: stateLabel(state) }, 1);
    }
  }
  g.consumerPaused.reset();
  g.consumerInFlight.reset();
  for (const [name, loop] of loops) {
    g.consumerPaused.set({ consumer: name }, loop.paused ? 1 : 0);
    g.consumerInFlight.set({ consumer: name }, loop.inFlight);
  }
}

/** "half-open (retry in 5s)" -> "half_open": the first words of a free-text status, as a label value. */
export function stateLabel(state: string): string {
  return (
    state
      .toLowerCase()
      .split(/[:(,]/)[0]
      .trim()
      .replace(/[^a-z0-9]+/g, "_")
      .replace(/^_+|_+$/g, "")
      .slice(0, 30) || "unknown"
  );
}

/**
 * Progress of the campaign runs fanning out now, from the counters the fan-out keeps on its run row:
 * one indexed read of the running runs, whatever the campaigns' size. Per-run sent/failed counts
 * need a count over the deliveries; CampaignService.WatchProgress (notifyctl campaign watch) has them.
 * Without the campaigns tables (area not installed) the gauge stays empty.
 */
export function campaignRound(db: Db, g: Gauges): () => Promise<void> {
  return async () => {
    let rows: { campaign_id: number; id: number; audience_total: number; planned: number; published: number }[];
    try {
      [rows] = (await db.query(
        "SELECT campaign_id, id, audience_total, planned, published FROM campaign_runs WHERE status = ? LIMIT 500",
        [RUN_RUNNING],
      )) as unknown as [typeof rows];
    } catch (err) {
      if ((err as { code?: string }).code !== "ER_NO_SUCH_TABLE") throw err;
      rows = [];
    }
    g.campaignProgress.reset();
    for (const r of rows) {
      const labels = { campaign: String(r.campaign_id), run: String(r.id) };
      g.campaignProgress.set({ ...labels, stage: "audience" }, Number(r.audience_total));
      g.campaignProgress.set({ ...labels, stage: "planned" }, Number(r.planned));
      g.campaignProgress.set({ ...labels, stage: "published" }, Number(r.published));
    }
  };
}

/** notify.v1.RunStatus RUNNING (campaign_runs.status). */
const RUN_RUNNING = 2;
