import type { Subscription } from "nats";
import { createConsumerLoop, type ConsumerLoop } from "../bus/consumer.js";
import { ensureConsumer } from "../bus/nats.js";
import { createLedger } from "../delivery/ledger.js";
import { createDeliveryWorker } from "../delivery/worker.js";
import { DeliveryState, type DeliverMessage } from "../notification/model.js";
import { createPlanner } from "../planner/planner.js";
import { allowAll } from "../planner/policy.js";
import { createRelay, type Relay } from "../relay/relay.js";
import { decodeJson } from "../bus/publish.js";
import { startApi, type Api } from "./api.js";
import { createHealth } from "../ops/health.js";
import { createHealthMonitor, type HealthMonitor } from "../ops/health-monitor.js";
import type { AppContext } from "./context.js";

export interface Runtime {
  api?: Api;
  relay?: Relay;
  consumers: Map<string, ConsumerLoop>;
  /** Graceful stop: stop pulling, finish in flight within the grace period, close listeners. */
  stop(): Promise<void>;
}

/** How long a message may stay unacknowledged before the broker assumes its worker died. */
const ACK_WAIT_MS = 30_000;

export async function startRuntime(ctx: AppContext): Promise<Runtime> {
  const { cfg, bus, topology: t, log } = ctx;
  const roles = new Set(cfg.roles);
  const maxDeliver = cfg.retry.backoffMs.length + 1;
  const consumers = new Map<string, ConsumerLoop>();
  const subs: Subscription[] = [];
  const ledger = createLedger(ctx.db, cfg.worker.leaseMs);

  let relay: Relay | undefined;
  if (roles.has("relay")) {
    relay = createRelay({ db: ctx.db, js: bus.js, log: log.child({ role: "relay" }), batch: cfg.relay.batch, pollMs: cfg.relay.pollMs });
    relay.start();
    const r = relay;
    // API processes elsewhere wake this relay over core NATS right after their commits.
    const sub = bus.nc.subscribe(t.subjects.relayKick);
    subs.push(sub);
    void (async () => {
      for await (const _ of sub) r.kick();
    })();
  }

  const common = { js: bus.js, maxDeliver, backoffMs: cfg.retry.backoffMs, ackWaitMs: ACK_WAIT_MS };
  if (roles.has("planner")) {
    await ensureConsumer(bus.jsm, t.streams.work, {
      durable: t.consumers.planner,
      filter: t.subjects.requests,
      maxDeliver,
      ackWaitMs: ACK_WAIT_MS,
      maxAckPending: 10_000,
    });
    const planner = createPlanner({ db: ctx.db, js: bus.js, topology: t, policy: allowAll, log: log.child({ role: "planner" }) });
    const loop = createConsumerLoop({
      ...common,
      stream: t.streams.work,
      durable: t.consumers.planner,
      concurrency: 16,
      log,
      handle: planner.handle,
    });
    loop.start();
    consumers.set("planner", loop);
  }

  if (roles.has("worker")) {
    for (const [name, channel] of ctx.channels) {
      const durable = t.consumers.deliver(name);
      await ensureConsumer(bus.jsm, t.streams.work, {
        durable,
        filter: t.subjects.deliver(name),
        maxDeliver,
        ackWaitMs: ACK_WAIT_MS,
        maxAckPending: 20_000,
      });
      const worker = createDeliveryWorker({
        db: ctx.db,
        ledger,
        channel,
        templates: ctx.templates,
        users: ctx.users,
        log: log.child({ role: "worker" }),
      });
      const loop = createConsumerLoop({
        ...common,
        stream: t.streams.work,
        durable,
        concurrency: cfg.worker.batch,
        log,
        handle: worker.handle,
        async onExhausted(m, error) {
          const msg = decodeJson<DeliverMessage>(m.data);
          await ledger.finish(msg.d, DeliveryState.Dead, `retries exhausted: ${error}`);
        },
      });
      loop.start();
      consumers.set(`deliver-${name}`, loop);
    }
  }

  let api: Api | undefined;
  let monitor: HealthMonitor | undefined;
  const health = createHealth();
  if (roles.has("api")) {
    monitor = createHealthMonitor({
      checks: {
        mariadb: async () => {
          await ctx.db.query("SELECT 1");
        },
        nats: async () => {
          await bus.nc.flush();
        },
      },
      intervalMs: 5000,
      health,
      log: log.child({ area: "health" }),
    });
    monitor.start();
    const kick = relay ? () => relay!.kick() : () => bus.nc.publish(t.subjects.relayKick);
    api = await startApi(ctx, {
      health,
      onCommitted: kick,
      readiness: async () => {
        const checks: Record<string, unknown> = {};
        let ready = true;
        try {
          await ctx.db.query("SELECT 1");
          checks.mariadb = "up";
        } catch (err) {
          checks.mariadb = `down: ${(err as Error).message}`;
          ready = false;
        }
        checks.nats = bus.nc.isClosed() ? "closed" : "up";
        if (bus.nc.isClosed()) ready = false;
        for (const [name, ch] of ctx.channels) checks[`channel.${name}`] = ch.status?.() ?? "up";
        checks.consumers = Object.fromEntries([...consumers].map(([k, c]) => [k, c.paused ? "paused" : "running"]));
        return { ready, checks };
      },
    });
  }

  return {
    api,
    relay,
    consumers,
    async stop() {
      log.info("stopping: no new work is pulled");
      // Probes and load balancers see the drain before the listeners go away.
      health.shutdown();
      await Promise.all([...consumers.values()].map((c) => c.stop(cfg.shutdownGraceMs)));
      for (const s of subs) s.unsubscribe();
      await relay?.stop();
      await monitor?.stop();
      await api?.close();
    },
  };
}
