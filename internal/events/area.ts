import { TriggerService } from "../../gen/notify/v1/trigger_service_pb.js";
import type { Area } from "../app/area.js";
import { createConsumerLoop, type ConsumerLoop } from "../bus/consumer.js";
import { ensureConsumer } from "../bus/nats.js";
import { createLinks } from "../links/links.js";
import { createLinkRoute } from "../links/route.js";
import { createAcceptor } from "../notification/accept.js";
import { settingDefinitions } from "../settings/registry.js";
import { createSettings } from "../settings/settings.js";
import { createAggregator } from "./aggregate.js";
import { createEventDeadLetters } from "./dlq.js";
import { createEventRouter } from "./router.js";
import { createRuleStore } from "./rules.js";
import { createTriggerService, TRIGGER_RULES } from "./service.js";
import { createEventStats } from "./stats.js";

const PRUNE_EVERY_MS = 3_600_000;
const KEEP_DAYS = 30;

/**
 * Events from the site and confirmation links. The planner role runs the event router (a durable
 * consumer on the events stream); the api role serves TriggerService and GET /l/{code}.
 */
export const eventsArea: Area = {
  name: "events",
  async setup(s) {
    const { ctx, roles } = s;
    const runsRouter = roles.has("planner");
    if (!runsRouter && !roles.has("api")) return;
    const { cfg, db, topology: t, bus } = ctx;
    const log = ctx.log.child({ area: "events" });

    const settings = createSettings({
      db,
      defs: settingDefinitions(cfg),
      log,
      nc: bus.nc,
      subject: t.subjects.settingsChanged,
    });
    const links = createLinks({
      db,
      users: ctx.users,
      settings,
      publicUrl: cfg.publicUrl,
      homeUrl: cfg.homeUrl,
      ttlMs: cfg.linkTtlMs,
      now: () => new Date(),
      log: log.child({ module: "links" }),
    });
    // The same acceptor as the API: events are one more way to Send. Relays anywhere wake on the kick.
    const accept = createAcceptor({
      db,
      templates: ctx.templates,
      topology: t,
      channels: () => [...ctx.channels.keys()],
      onCommitted: (fresh) => {
        bus.nc.publish(t.subjects.relayKick);
        s.pipeline.accepted(fresh, "events");
      },
    });
    const rules = createRuleStore(db);
    const stats = runsRouter ? createEventStats(db, log) : undefined;

    let loop: ConsumerLoop | undefined;
    let pruner: NodeJS.Timeout | undefined;
    if (runsRouter) {
      const maxDeliver = cfg.retry.backoffMs.length + 1;
      await ensureConsumer(bus.jsm, t.streams.events, {
        durable: t.consumers.events,
        filter: t.subjects.eventsAll,
        maxDeliver,
        ackWaitMs: cfg.worker.ackWaitMs,
        maxAckPending: 10_000,
      });
      const router = createEventRouter({
        db,
        topology: t,
        rules,
        accept,
        links,
        aggregator: createAggregator({ db, topology: t }),
        stats: stats!,
        channels: () => [...ctx.channels.keys()],
        deadLetter: createEventDeadLetters({ js: bus.js, db, topology: t, log }),
        log,
      });
      loop = createConsumerLoop({
        js: bus.js,
        stream: t.streams.events,
        durable: t.consumers.events,
        concurrency: 32,
        maxDeliver,
        backoffMs: cfg.retry.backoffMs,
        ackWaitMs: cfg.worker.ackWaitMs,
        log,
        handle: router.handle,
        onDeadLetter: router.onDeadLetter,
      });
      s.consumers.set("events", loop);
      pruner = setInterval(() => {
        void pruneOld(db).catch((err) => log.warn({ err: (err as Error).message }, "pruning event receipts failed"));
      }, PRUNE_EVERY_MS);
      pruner.unref();
    }

    if (roles.has("api")) {
      s.addService(
        (r) => r.service(TriggerService, createTriggerService({ db, rules, templates: ctx.templates, accept, links, users: ctx.users, stats })),
        TRIGGER_RULES,
      );
      s.addHttpRoute(createLinkRoute(links, log.child({ module: "links" })));
    }

    return {
      started() {
        loop?.start();
      },
      async stop() {
        if (pruner) clearInterval(pruner);
        await loop?.stop(cfg.shutdownGraceMs);
        await stats?.close();
        settings.close();
      },
    };
  },
};

async function pruneOld(db: import("../store/db.js").Db) {
  const before = new Date(Date.now() - KEEP_DAYS * 24 * 3_600_000);
  await db.query("DELETE FROM event_receipts WHERE created_at < ? LIMIT 10000", [before]);
  await db.query("DELETE FROM event_aggregates WHERE open_flag IS NULL AND closed_at < ? LIMIT 10000", [before]);
}
