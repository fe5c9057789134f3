import type { CallLimiter } from "../reliability/limiter.js";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { MetricSource, PipelineObserver } from "../app/area.js";
import type { Channel } from "../channel/channel.js";
import { idTime } from "../ids/ids.js";

/**
 * The platform's Prometheus metrics, one Registry per process (never prom-client's global one, so two
 * nodes in one test process do not share counters). Names and labels are listed in docs/operations.md.
 */
export interface PlatformMetrics {
  readonly registry: Registry;
  /** Counts work as it passes the pipeline's stages (AreaSetup.observe). */
  readonly observer: PipelineObserver;
  /** Gauges the pollers in metrics-pollers.ts keep current. */
  readonly gauges: ReturnType<typeof createGauges>;
  /** The same channel with send() timed (for email: one SMTP transaction). */
  instrumentChannel(ch: Channel): Channel;
  /**
   * Times each call the limiter runs: the users client sends every user-service RPC through it. Returns
   * a function that stops the timing.
   */
  observeUserService(limiter: Pick<CallLimiter, "observe">): () => void;
  /** Publishes other areas' gauges (notify_ws_connections...); safe to call again with a longer list. */
  addSources(list: readonly MetricSource[]): void;
  /** The text exposition format and its content type. */
  scrape(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  /** Node.js process metrics: CPU, memory, GC, event loop lag (nodejs_eventloop_lag_seconds...). */
  processMetrics?: boolean;
  roles?: readonly string[];
}

const FAST = [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const END_TO_END = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400];
/** Skip reasons are policy text; past this many distinct ones the rest count as "other". */
const MAX_REASONS = 50;

export function createPlatformMetrics(opts: MetricsOptions = {}): PlatformMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry });

  const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers });
  const histogram = (name: string, help: string, labelNames: string[], buckets: number[]) =>
    new Histogram({ name, help, labelNames, buckets, registers });

  const roles = new Gauge({ name: "notify_process_roles", help: "1 for each role this process runs", labelNames: ["role"], registers });
  for (const r of opts.roles ?? []) roles.set({ role: r }, 1);

  const accepted = counter(
    "notify_notifications_accepted_total",
    "Notifications committed, by source: api (Send/SendBatch), events (trigger rules); idempotent repeats not counted",
    ["source"],
  );
  const relayed = counter("notify_outbox_published_total", "Outbox rows the relay published to JetStream");
  const handoffs = counter(
    "notify_plan_handoffs_total",
    "Single Sends planned by the planner of the process that accepted them (planned), or left to the relay and the broker (failed)",
    ["outcome"],
  );
  const locals = counter(
    "notify_local_deliveries_total",
    "Deliveries of single Sends made by the process that accepted and planned them, without the broker, by the first attempt's outcome (retry: it left through the outbox; error: left to the reconciler)",
    ["channel", "outcome"],
  );
  const relayRound = histogram("notify_relay_round_seconds", "Duration of relay rounds that moved rows", [], FAST);
  const planned = counter("notify_deliveries_planned_total", "Deliveries created by the planner, by decision", ["channel", "decision"]);
  const published = counter("notify_deliveries_published_total", "Deliveries the planner published to the channel's subject at once", ["channel"]);
  const sent = counter("notify_deliveries_sent_total", "Deliveries the channel accepted (email: 250 from the SMTP relay)", ["channel"]);
  const failed = counter("notify_deliveries_failed_total", "Deliveries that failed permanently, by reason", ["channel", "reason"]);
  const retried = counter("notify_deliveries_retried_total", "Delivery attempts that failed transiently and will be retried, by reason", ["channel", "reason"]);
  const skipped = counter("notify_deliveries_skipped_total", "Deliveries not sent on purpose, by reason (preferences, quiet hours...)", ["channel", "reason"]);
  const dead = counter("notify_deliveries_dead_total", "Deliveries whose attempts ran out", ["channel"]);
  const duplicate = counter("notify_deliveries_redelivered_final_total", "Redelivered messages for deliveries already final (acknowledged, not sent again)", ["channel"]);
  const attempt = histogram("notify_delivery_attempt_seconds", "One worker attempt: claim, enrich, render, send, record", ["channel", "outcome"], FAST);
  const acceptToSent = histogram(
    "notify_accept_to_sent_seconds",
    "From accepting the notification to the channel accepting the delivery (includes send_after and holds)",
    ["channel"],
    END_TO_END,
  );
  const channelSend = histogram("notify_channel_send_seconds", "Channel send calls (email: one SMTP transaction)", ["channel", "outcome"], FAST);
  const userCalls = histogram("notify_user_service_call_seconds", "Calls to the user service (batched GetUsers...)", ["outcome"], FAST);

  // The per-delivery observations go to children bound once per label set: passing labels to each
  // call makes prom-client check and hash them every time (about 2% of a worker's CPU at full rate).
  const sentFor = bound((channel: string) => sent.labels({ channel }));
  const acceptToSentFor = bound((channel: string) => acceptToSent.labels({ channel }));
  const attemptFor = bound((channel: string, outcome: string) => attempt.labels({ channel, outcome }));
  const channelSendFor = bound((channel: string, outcome: string) => channelSend.labels({ channel, outcome }));

  const reasons = new Set<string>();
  const reasonLabel = (reason: string) => {
    const r = reason.split(":")[0].toLowerCase().replace(/[^a-z0-9_]+/g, "_").replace(/^_+|_+$/g, "").slice(0, 40) || "unspecified";
    if (reasons.has(r)) return r;
    if (reasons.size >= MAX_REASONS) return "other";
    reasons.add(r);
    return r;
  };

  const observer: PipelineObserver = {
    accepted: (n, source = "api") => accepted.inc({ source }, n),
    handedOff: (outcome) => handoffs.inc({ outcome }),
    local: (channel, outcome) => locals.inc({ channel, outcome }),
    relayed: (n, ms) => {
      relayed.inc(n);
      relayRound.observe(ms / 1000);
    },
    planned(created, now) {
      for (const p of created) {
        planned.inc({ channel: p.channel, decision: p.decision.kind });
        if (p.decision.kind === "skip") skipped.inc({ channel: p.channel, reason: reasonLabel(p.decision.reason) });
      }
      for (const p of now) published.inc({ channel: p.channel });
    },
    delivery(event, ms, msg, reason) {
      const channel = msg?.ch ?? "unknown";
      switch (event) {
        case "sent": {
          sentFor(channel).inc();
          const born = msg ? idTime(msg.n) : undefined;
          if (born !== undefined) acceptToSentFor(channel).observe(Math.max(0, Date.now() - born) / 1000);
          break;
        }
        case "failed":
          failed.inc({ channel, reason: reasonLabel(reason ?? "") });
          break;
        case "retry":
          retried.inc({ channel, reason: reasonLabel(reason ?? "") });
          break;
        case "skipped":
          skipped.inc({ channel, reason: reasonLabel(reason ?? "") });
          break;
        case "duplicate":
          duplicate.inc({ channel });
          return;
      }
      attemptFor(channel, event).observe(ms / 1000);
    },
    dead: (channel) => dead.inc({ channel }),
  };

  const sources = new Set<string>();
  return {
    registry,
    observer,
    gauges: createGauges(registers),
    instrumentChannel(ch) {
      const send: Channel["send"] = async (m) => {
        const started = performance.now();
        const end = (outcome: string) => channelSendFor(ch.name, outcome).observe((performance.now() - started) / 1000);
        try {
          const r = await ch.send(m);
          end("ok");
          return r;
        } catch (err) {
          end((err as { transient?: boolean }).transient === false ? "permanent" : "transient");
          throw err;
        }
      };
      // A proxy rather than a copy: methods stay bound to the real channel (class instances with private
      // fields keep working) and extra members (the email channel's transports) stay visible.
      return new Proxy(ch, {
        get(target, prop) {
          if (prop === "send") return send;
          const v = Reflect.get(target, prop, target) as unknown;
          return typeof v === "function" ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    },
    observeUserService(limiter) {
      return limiter.observe((ms, ok) => userCalls.observe({ outcome: ok ? "ok" : "error" }, ms / 1000));
    },
    addSources(list) {
      for (const src of list) {
        if (sources.has(src.name)) continue;
        sources.add(src.name);
        new Gauge({
          name: src.name,
          help: src.help,
          labelNames: src.labelNames ?? [],
          registers,
          collect() {
            const v = src.read();
            this.reset();
            if (typeof v === "number") this.set(v);
            else for (const x of v) this.set(x.labels, x.value);
          },
        });
      }
    },
    async scrape() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

/** A metric's child per label values, made on first use (the values are few: channels, outcomes). */
function bound<A extends string[], C>(make: (...values: A) => C): (...values: A) => C {
  const children = new Map<string, C>();
  return (...values) => {
    const key = values.join("\u0000");
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = make(...values)));
    return child;
  };
}

function createGauges(registers: Registry[]) {
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers });
  return {
    streamMessages: gauge("notify_stream_messages", "Messages stored in each JetStream stream (work queue backlog, dead letters)", ["stream"]),
    consumerPending: gauge("notify_consumer_pending_messages", "Messages not yet delivered to any worker, per durable consumer", ["stream", "durable"]),
    consumerAckPending: gauge("notify_consumer_ack_pending_messages", "Messages delivered and not yet acknowledged, per durable", ["stream", "durable"]),
    consumerRedelivered: gauge("notify_consumer_redelivered_messages", "Messages redelivered and not yet acknowledged, per durable", ["stream", "durable"]),
    consumerPaused: gauge("notify_consumer_paused", "1 while this process has paused the consumer loop (breaker open)", ["consumer"]),
    consumerInFlight: gauge("notify_consumer_in_flight", "Messages this process is handling now, per consumer loop", ["consumer"]),
    dependencyState: gauge(
      "notify_dependency_state",
      "1 for the current state of each channel dependency (breaker closed/open/half_open, up/down)",
      ["channel", "dependency", "state"],
    ),
    campaignProgress: gauge(
      "notify_campaign_run_progress",
      "Campaign runs fanning out now: recipients in the audience, deliveries planned, deliveries published",
      ["campaign", "run", "stage"],
    ),
    pollErrors: new Counter({ name: "notify_metrics_poll_errors_total", help: "Failed polls of NATS or MariaDB for gauges", labelNames: ["source"], registers }),
  };
}
