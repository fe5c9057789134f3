import { OpsService } from "../../gen/notify/v1/ops_service_pb.js";
import type { Area } from "../app/area.js";
import type { ConsumerLoop } from "../bus/consumer.js";
import { startAdvisoryCapture } from "./advisory.js";
import { allAvailable, type Availability } from "./availability.js";
import type { Breaker } from "./breaker.js";
import { createDeadLetters } from "./dead-letters.js";
import { createOpsService, OPS_DEAD_LETTER_RULES } from "./ops-service.js";
import { createReconciler } from "./reconciler.js";

/**
 * Reliability: dead letters (capture from the consumer loops and from the broker's max-deliveries
 * advisory, OpsService to list/replay/purge), circuit breakers pausing the consumers of the channels
 * they guard, and the reconciler in the relay role.
 */
export const reliabilityArea: Area = {
  name: "reliability",
  setup(s) {
    const { ctx, roles } = s;
    const t = ctx.topology;
    const log = ctx.log.child({ area: "reliability" });
    const kickRelay = () => ctx.bus.nc.publish(t.subjects.relayKick);
    const deadLetters = createDeadLetters({ db: ctx.db, js: ctx.bus.js, jsm: ctx.bus.jsm, topology: t, log, kickRelay });
    const consuming = roles.has("worker") || roles.has("planner");

    if (consuming) s.addDeadLetterSink((_source, m, info) => deadLetters.captureMsg(m, info.kind, info.error, info.attempts).then(() => undefined));
    if (roles.has("api")) {
      s.addService((router) => router.service(OpsService, createOpsService(deadLetters)), OPS_DEAD_LETTER_RULES);
    }

    // Breakers: the user service's and each channel's (SMTP relays). Visible in /readyz but never
    // "not ready": accepting notifications while a dependency is down is the point of the queue.
    const breakers: Record<string, Breaker> = {};
    if (ctx.users.breaker) breakers.users = ctx.users.breaker;
    for (const [name, ch] of ctx.channels) {
      for (const b of (ch as { breakers?: Breaker[] }).breakers ?? []) breakers[`${name}.${b.name}`] = b;
    }
    s.addReadiness("breakers", async () => ({
      ready: true,
      detail: Object.fromEntries(Object.entries(breakers).map(([k, b]) => [k, b.status()])),
    }));

    const unsubscribe: (() => void)[] = [];
    let advisory: { stop(): void } | undefined;
    const reconciler = roles.has("relay")
      ? createReconciler({ db: ctx.db, topology: t, log, afterMs: ctx.cfg.reconcileAfterMs, everyMs: ctx.cfg.reconcileEveryMs, kickRelay })
      : undefined;

    return {
      started() {
        if (consuming) advisory = startAdvisoryCapture({ nc: ctx.bus.nc, jsm: ctx.bus.jsm, topology: t, db: ctx.db, ledger: s.ledger, deadLetters, log });
        reconciler?.start();
        // A channel's consumer stops pulling while its way out or the user service is down; the
        // messages wait in the stream with their attempts untouched.
        for (const [name, ch] of ctx.channels) {
          const loops = [t.consumers.deliver(name), t.consumers.deliverChunks(name)]
            .map((durable) => s.consumers.get(durable))
            .filter((l): l is ConsumerLoop => l !== undefined);
          if (loops.length === 0) continue;
          const parts = [ch.availability, ctx.users.breaker].filter((a): a is Availability => a !== undefined);
          if (parts.length === 0) continue;
          const gate = allAvailable(parts);
          const apply = (up: boolean) => loops.forEach((loop) => (up ? loop.resume() : loop.pause()));
          unsubscribe.push(gate.onChange(apply));
          if (!gate.available) apply(false);
        }
      },
      async stop() {
        for (const u of unsubscribe) u();
        advisory?.stop();
        await reconciler?.stop();
      },
    };
  },
};
