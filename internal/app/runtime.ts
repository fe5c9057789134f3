import type { JsMsg, Subscription } from "nats";
import type { ConnectRouter } from "@connectrpc/connect";
import type { CustomAuthenticator, Requirement } from "../auth/interceptor.js";
import { createConsumerLoop, type ConsumerLoop } from "../bus/consumer.js";
import { ensureConsumer } from "../bus/nats.js";
import { decodeJson } from "../bus/publish.js";
import { createLedger } from "../delivery/ledger.js";
import { chunkSize, chunkSizeFor, coalescingPublisher } from "../delivery/chunks.js";
import { createLocalDelivery, type LocalDelivery } from "../delivery/local.js";
import { createDeliveryWorker, type Decorator, type FailureListener } from "../delivery/worker.js";
import { DeliveryState, type DeliverMessage } from "../notification/model.js";
import { createHealth } from "../ops/health.js";
import { createHealthMonitor, type HealthMonitor } from "../ops/health-monitor.js";
import { createPlanner } from "../planner/planner.js";
import { createHandoff, type Handoff } from "../planner/handoff.js";
import { combinePolicies, type PlanPolicy } from "../planner/policy.js";
import { createRelay, type Relay } from "../relay/relay.js";
import type { HttpRoute } from "../server/http-routes.js";
import type { listenHttp } from "../server/listen.js";
import { startApi, type Api } from "./api.js";
import { combineObservers, type Area, type AreaHandle, type AreaSetup, type DeadLetterSink, type MetricSource, type PipelineObserver } from "./area.js";
import { AREAS } from "./areas.js";
import type { AppContext } from "./context.js";

export interface Runtime {
  api?: Api;
  relay?: Relay;
  consumers: Map<string, ConsumerLoop>;
  /** Graceful stop: stop pulling, finish in flight within the grace period, close listeners. */
  stop(): Promise<void>;
}

export async function startRuntime(ctx: AppContext, areas: Area[] = AREAS): Promise<Runtime> {
  const { cfg, bus, topology: t, log } = ctx;
  const roles = new Set(cfg.roles);
  const maxDeliver = cfg.retry.backoffMs.length + 1;
  const ACK_WAIT_MS = cfg.worker.ackWaitMs;
  const consumers = new Map<string, ConsumerLoop>();
  const subs: Subscription[] = [];
  const ledger = createLedger(ctx.db, cfg.worker.leaseMs);
  const health = createHealth();

  // What the areas plug in.
  const policies: PlanPolicy[] = [];
  const decorators: Decorator[] = [];
  const failureListeners: FailureListener[] = [];
  const services: ((r: ConnectRouter) => void)[] = [];
  const rules: Record<string, Requirement> = {};
  const routes: HttpRoute[] = [];
  const authenticators: Record<string, CustomAuthenticator> = {};
  const readiness = new Map<string, () => Promise<{ ready: boolean; detail: unknown }>>();
  let onUpgrade: Parameters<typeof listenHttp>[2];
  const observers: PipelineObserver[] = [];
  const metricSources: MetricSource[] = [];
  const observe = combineObservers(observers);
  const deadLetterSinks: DeadLetterSink[] = [];
  const sinkDead: DeadLetterSink = async (source, m, info) => {
    for (const sink of deadLetterSinks) await sink(source, m, info);
  };
  const setup: AreaSetup = {
    ctx,
    roles,
    ledger,
    health,
    consumers,
    addPlanPolicy: (p) => policies.push(p),
    planPolicy: { decide: (input) => combinePolicies(...policies).decide(input) },
    addDecorator: (d) => decorators.push(d),
    addFailureListener: (l) => failureListeners.push(l),
    addService: (r, rs) => {
      services.push(r);
      Object.assign(rules, rs);
    },
    addHttpRoute: (r) => routes.push(r),
    addAuthenticator: (n, a) => {
      authenticators[n] = a;
    },
    addReadiness: (n, c) => readiness.set(n, c),
    setUpgradeHandler: (h) => {
      onUpgrade = h;
    },
    addDeadLetterSink: (sink) => deadLetterSinks.push(sink),
    observe: (o) => observers.push(o),
    addMetric: (m) => metricSources.push(m),
    metricSources,
    pipeline: observe,
  };
  const handles: AreaHandle[] = [];
  for (const area of areas) {
    const h = await area.setup(setup);
    if (h) handles.push(h);
  }

  let relay: Relay | undefined;
  if (roles.has("relay")) {
    relay = createRelay({ db: ctx.db, js: bus.js, log: log.child({ role: "relay" }), batch: cfg.relay.batch, pollMs: cfg.relay.pollMs, observe: observe.relayed });
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
  const chunk = chunkSizeFor(cfg.worker.chunk, cfg.retry.backoffMs.length);
  let handoff: Handoff | undefined;
  // Filled in below when this process also runs the workers (see delivery/local.ts).
  const locals = new Map<string, LocalDelivery>();
  if (roles.has("planner")) {
    await ensureConsumer(bus.jsm, t.streams.work, {
      durable: t.consumers.planner,
      filter: t.subjects.requests,
      maxDeliver,
      ackWaitMs: ACK_WAIT_MS,
      maxAckPending: 10_000,
    });
    const planner = createPlanner({
      db: ctx.db,
      js: bus.js,
      topology: t,
      policy: combinePolicies(...policies),
      log: log.child({ role: "planner" }),
      addressChannels: [...ctx.channels.values()].filter((c) => c.takesBareAddress).map((c) => c.name),
      observe: observe.planned,
      local: (channel) => locals.get(channel),
      publish: chunk > 1 ? coalescingPublisher(bus.js, t, chunk) : undefined,
    });
    const loop = createConsumerLoop({
      ...common,
      stream: t.streams.work,
      durable: t.consumers.planner,
      concurrency: 16,
      log,
      handle: planner.handle,
      onDeadLetter: (m, info) => sinkDead("planner", m, info),
    });
    loop.start();
    consumers.set("planner", loop);
    if (roles.has("api") && cfg.planHandoffMs > 0) {
      handoff = createHandoff({
        planHere: planner.planHere,
        log: log.child({ role: "planner" }),
        graceMs: cfg.planHandoffMs,
        maxInFlight: 2000,
        observe: observe.handedOff,
      });
    }
  }

  if (roles.has("worker")) {
    for (const [name, channel] of ctx.channels) {
      const worker = createDeliveryWorker({
        db: ctx.db,
        ledger,
        channel,
        templates: ctx.templates,
        users: ctx.users,
        log: log.child({ role: "worker" }),
        backoffMs: cfg.retry.backoffMs,
        retrySubject: t.subjects.deliver(name),
        decorators,
        failureListeners,
        observe: observe.delivery,
      });
      // Two consumers per channel: single delivery messages, and chunks of them (delivery/chunks.ts),
      // whose loop counts deliveries, not messages, so a process takes about the same work either way
      // and several workers share a campaign.
      const loops = [
        { durable: t.consumers.deliver(name), filter: t.subjects.deliver(name) },
        { durable: t.consumers.deliverChunks(name), filter: t.subjects.deliverChunks(name), weigh: chunkSize },
      ];
      for (const l of loops) {
        await ensureConsumer(bus.jsm, t.streams.work, {
          durable: l.durable,
          filter: l.filter,
          maxDeliver,
          ackWaitMs: ACK_WAIT_MS,
          maxAckPending: 20_000,
        });
        const loop = createConsumerLoop({
          ...common,
          stream: t.streams.work,
          durable: l.durable,
          concurrency: cfg.worker.batch,
          weigh: l.weigh,
          expectedWeight: l.weigh ? cfg.worker.chunk : 1,
          log,
          handle: (m) => worker.handle(m),
          async onDeadLetter(m, info) {
            if (info.kind === "max_deliveries") {
              // A chunk names no single delivery: the reconciler publishes its open rows again one by one.
              const msg = decodeJson<DeliverMessage | DeliverMessage[]>(m.data);
              if (!Array.isArray(msg)) {
                await ledger.finish(msg.d, DeliveryState.Dead, `retries exhausted: ${info.error}`);
                observe.dead(name);
              }
            }
            await sinkDead(name, m, info);
          },
        });
        loop.start();
        consumers.set(l.durable, loop);
      }
      // A single attempt left nothing to retry with, so such a platform keeps every delivery on the broker.
      if (handoff && cfg.localDelivery && maxDeliver > 1) {
        locals.set(
          name,
          createLocalDelivery({
            worker,
            db: ctx.db,
            subject: t.subjects.deliver(name),
            leaseMs: cfg.worker.leaseMs,
            maxInFlight: cfg.worker.batch,
            log: log.child({ role: "worker" }),
            observe: observe.local,
          }),
        );
      }
    }
  }

  let api: Api | undefined;
  let monitor: HealthMonitor | undefined;
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
      handoff,
      onCommitted: (fresh, handedOff) => {
        if (!handedOff) kick();
        observe.accepted(fresh, "api");
      },
      services,
      rules,
      authenticators,
      httpRoutes: routes,
      onUpgrade,
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
        for (const [name, check] of readiness) {
          const r = await check().catch((err) => ({ ready: false, detail: (err as Error).message }));
          checks[name] = r.detail;
          if (!r.ready) ready = false;
        }
        return { ready, checks };
      },
    });
  }

  for (const h of handles) await h.started?.();

  return {
    api,
    relay,
    consumers,
    async stop() {
      log.info("stopping: no new work is pulled");
      // Probes and load balancers see the drain before the listeners go away.
      health.shutdown();
      for (const h of [...handles].reverse()) await h.stop?.().catch((err) => log.warn({ err: (err as Error).message }, "area stop failed"));
      await Promise.all([...consumers.values()].map((c) => c.stop(cfg.shutdownGraceMs)));
      for (const s of subs) s.unsubscribe();
      await relay?.stop();
      await monitor?.stop();
      await api?.close();
      // Notifications accepted just before the close finish planning here; any that cannot within
      // the grace keep their outbox rows for a relay.
      if (handoff) await Promise.race([handoff.drain(), new Promise((r) => setTimeout(r, cfg.shutdownGraceMs).unref())]);
    },
  };
}

