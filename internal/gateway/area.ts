import { InboxService } from "../../gen/notify/v1/inbox_service_pb.js";
import type { Area, AreaHandle } from "../app/area.js";
import { createHttpHandler, sendJson } from "../server/http-routes.js";
import { listenHttp, type Listener } from "../server/listen.js";
import { createUserVerifier } from "./auth.js";
import { createGateway, type Gateway } from "./gateway.js";
import { createInboxService, createUserJwtAuthenticator, INBOX_RULES, USER_JWT } from "./inbox-service.js";
import { createMutePolicy, createMuteStore } from "./mutes.js";
import { createReceipts } from "./receipts.js";

/**
 * In-app notifications: the websocket gateway (role "gateway", /ws), the InboxService (api role,
 * user JWT), and mutes (a plan policy, so a muted sender or category is skipped on every channel).
 *
 * The gateway serves /ws on the api role's HTTP listener when both roles run in the process; a
 * process with the gateway role and no api role (or with NOTIFY_WS_ADDR set to another address)
 * opens an HTTP listener of its own that serves /ws, /healthz and /readyz, so gateways scale apart
 * from the API behind their own load balancer.
 */
export const gatewayArea: Area = {
  name: "gateway",
  async setup(s): Promise<AreaHandle> {
    const { ctx, roles } = s;
    const log = ctx.log.child({ area: "gateway" });
    const verifier = createUserVerifier(ctx.cfg.jwt);
    const receipts = createReceipts({
      db: ctx.db,
      log,
      publish: (userId, frame) => ctx.bus.nc.publish(ctx.topology.subjects.wsUser(userId), frame),
    });
    const mutes = createMuteStore(ctx.db);

    s.addPlanPolicy(createMutePolicy(ctx.db));
    s.addAuthenticator(USER_JWT, createUserJwtAuthenticator(verifier));
    s.addService((router) => router.service(InboxService, createInboxService({ db: ctx.db, receipts })), INBOX_RULES);

    if (!roles.has("gateway")) return { stop: async () => receipts.stop() };
    if (!verifier.configured) {
      log.warn("neither NOTIFY_JWT_SECRET nor NOTIFY_JWT_JWKS_URL is set: every websocket is refused with 401");
    }
    const gw: Gateway = createGateway({ db: ctx.db, nc: ctx.bus.nc, topology: ctx.topology, log, ws: ctx.cfg.ws, verifier, receipts, mutes });
    s.addMetric({ name: "notify_ws_connections", help: "Open websocket connections on this gateway.", read: () => gw.stats().connections });
    s.addMetric({ name: "notify_ws_users", help: "Users with at least one open websocket on this gateway.", read: () => gw.stats().users });
    s.addReadiness("gateway", async () => ({ ready: true, detail: gw.stats() }));

    const shared = roles.has("api") && (ctx.cfg.ws.addr === undefined || ctx.cfg.ws.addr === ctx.cfg.httpAddr);
    let own: Listener | undefined;
    if (shared) {
      s.setUpgradeHandler(gw.handleUpgrade);
    } else {
      own = await listenHttp(
        ctx.cfg.ws.addr ?? ctx.cfg.httpAddr,
        createHttpHandler(
          [
            { prefix: "/healthz", exact: true, handle: (_q, res) => sendJson(res, 200, { status: "ok" }) },
            {
              prefix: "/readyz",
              exact: true,
              handle: async (_q, res) => {
                const db = await ctx.db.query("SELECT 1").then(
                  () => "up",
                  (err: Error) => `down: ${err.message}`,
                );
                const nats = ctx.bus.nc.isClosed() ? "closed" : "up";
                const ready = db === "up" && nats === "up";
                sendJson(res, ready ? 200 : 503, { ready, checks: { mariadb: db, nats, gateway: gw.stats() } });
              },
            },
          ],
          (_q, res) => sendJson(res, 404, { error: "not found" }),
        ),
        gw.handleUpgrade,
      );
      log.info({ address: own.address }, "gateway listening");
    }
    return {
      async stop() {
        await gw.stop();
        await own?.close();
      },
    };
  },
};
