import type { Area } from "../app/area.js";
import type { HttpRoute } from "../server/http-routes.js";
import { createHttpHandler, sendJson } from "../server/http-routes.js";
import { listenHttp, type Listener } from "../server/listen.js";
import { createPlatformMetrics } from "./metrics.js";
import { campaignRound, collectLocalState, createPoller, natsRound, type Poller } from "./metrics-pollers.js";

/** The campaign gauge reads MariaDB, so it polls less often than the JetStream gauges. */
const CAMPAIGN_POLL_FACTOR = 3;

/**
 * Prometheus metrics at /metrics: on the api role's HTTP listener, and on NOTIFY_METRICS_ADDR when set
 * (processes without the api role, e.g. workers, are scraped there).
 */
export const metricsArea: Area = {
  name: "metrics",
  setup(s) {
    const { ctx } = s;
    const log = ctx.log.child({ area: "metrics" });
    const metrics = createPlatformMetrics({ roles: [...s.roles] });
    s.observe(metrics.observer);
    // Wrapped before the workers are built (areas set up first), so every send is timed.
    for (const [name, ch] of ctx.channels) ctx.channels.set(name, metrics.instrumentChannel(ch));
    const stopUserTiming = ctx.users.limiter ? metrics.observeUserService(ctx.users.limiter) : () => undefined;

    const route: HttpRoute = {
      prefix: "/metrics",
      exact: true,
      async handle(_req, res) {
        collectLocalState(ctx.channels, s.consumers, metrics.gauges);
        metrics.addSources(s.metricSources);
        const { contentType, body } = await metrics.scrape();
        res.writeHead(200, { "content-type": contentType, "cache-control": "no-store" });
        res.end(body);
      },
    };
    s.addHttpRoute(route);

    const pollers: Poller[] = [
      createPoller(
        "nats",
        ctx.cfg.metrics.pollMs,
        natsRound(ctx.bus.jsm, Object.values(ctx.topology.streams), metrics.gauges),
        metrics.gauges,
        log,
      ),
    ];
    // One process kind is enough for a database query; API processes are the ones always present.
    if (s.roles.has("api")) {
      const every = ctx.cfg.metrics.pollMs * CAMPAIGN_POLL_FACTOR;
      pollers.push(createPoller("campaigns", every, campaignRound(ctx.db, metrics.gauges), metrics.gauges, log));
    }

    let listener: Listener | undefined;
    return {
      async started() {
        for (const p of pollers) p.start();
        if (ctx.cfg.metrics.addr) {
          const probe: HttpRoute = { prefix: "/healthz", exact: true, handle: (_q, res) => sendJson(res, 200, { status: "ok" }) };
          listener = await listenHttp(
            ctx.cfg.metrics.addr,
            createHttpHandler([route, probe], (_q, res) => sendJson(res, 404, { error: "not found" })),
          );
          log.info({ address: listener.address }, "metrics listening");
        }
      },
      async stop() {
        stopUserTiming();
        await Promise.all(pollers.map((p) => p.stop()));
        await listener?.close();
      },
    };
  },
};
