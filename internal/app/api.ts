import type { ConnectRouter } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { NotificationService } from "../../gen/notify/v1/notification_service_pb.js";
import { TemplateService } from "../../gen/notify/v1/template_service_pb.js";
import { createAuthInterceptor, type CustomAuthenticator, type Requirement } from "../auth/interceptor.js";
import { createAcceptor } from "../notification/accept.js";
import { createNotificationService } from "../notification/service.js";
import { createTemplateService } from "../template/index.js";
import { createHttpHandler, sendJson, type HttpRoute } from "../server/http-routes.js";
import { listenH2c, listenHttp, type Listener } from "../server/listen.js";
import { listenGrpc, recordRoutes } from "../rpc/grpc-server.js";
import type { AppContext } from "./context.js";
import { createPolicy } from "./policy.js";
import { principalKey } from "../auth/interceptor.js";
import { createReflectionRoutes } from "../ops/reflection.js";
import { createPlatformRegistry } from "../ops/registry.js";
import type { Health } from "../ops/health.js";
import type { Handoff } from "../planner/handoff.js";

export interface ApiOptions {
  /** After each commit that added notifications (fresh: how many; handedOff: to this process's planner). */
  onCommitted: (fresh: number, handedOff: boolean) => void;
  /** The planner of this process, when it has the planner role. */
  handoff?: Handoff;
  /** Readiness details for /readyz; ready=false answers 503. */
  readiness: () => Promise<{ ready: boolean; checks: Record<string, unknown> }>;
  /** Extra HTTP routes from other roles (links, unsubscribe, websocket, metrics, admin UI). */
  httpRoutes?: HttpRoute[];
  /** Extra Connect services from other areas. */
  services?: ((router: ConnectRouter) => void)[];
  /** grpc.health.v1 status, served on the gRPC listener. */
  health: Health;
  /** Auth rules for the extra services. */
  rules?: Record<string, Requirement>;
  authenticators?: Record<string, CustomAuthenticator>;
  onUpgrade?: Parameters<typeof listenHttp>[2];
}

export interface Api {
  grpc: Listener;
  http: Listener;
  close(): Promise<void>;
}

/**
 * The API role: the platform's services on the gRPC listener (grpc-js, or connect-node over h2c) and,
 * through connect-node, on the HTTP/1.1 listener (Connect, gRPC-Web).
 */
export async function startApi(ctx: AppContext, o: ApiOptions): Promise<Api> {
  const accept = createAcceptor({
    db: ctx.db,
    templates: ctx.templates,
    topology: ctx.topology,
    channels: () => [...ctx.channels.keys()],
    onCommitted: o.onCommitted,
    handoff: o.handoff,
  });
  const routes = (router: ConnectRouter) => {
    router.service(NotificationService, createNotificationService({ db: ctx.db, accept }));
    router.service(
      TemplateService,
      createTemplateService({
        catalog: ctx.templates,
        db: ctx.db,
        log: ctx.log,
        users: ctx.users,
        actor: (hc) => hc.values.get(principalKey)?.name ?? "",
      }),
    );
    createReflectionRoutes(createPlatformRegistry())(router);
    o.health.routes(router);
    for (const s of o.services ?? []) s(router);
  };
  // One set of service objects for both servers.
  const recorded = recordRoutes(routes);
  const interceptors = [createAuthInterceptor(ctx.apiKeys, createPolicy(o.rules), o.authenticators)];
  const connect = connectNodeAdapter({
    routes: recorded.replay,
    interceptors,
    readMaxBytes: ctx.cfg.maxRequestBytes,
    // Health checks and probes must not hang on a slow client.
    requireConnectProtocolHeader: false,
  });
  const grpc =
    ctx.cfg.grpcServer === "grpc-js"
      ? await listenGrpc(ctx.cfg.grpcAddr, recorded, { interceptors, readMaxBytes: ctx.cfg.maxRequestBytes })
      : await listenH2c(ctx.cfg.grpcAddr, connect);
  const probes: HttpRoute[] = [
    { prefix: "/healthz", exact: true, handle: (_q, res) => sendJson(res, 200, { status: "ok" }) },
    {
      prefix: "/readyz",
      exact: true,
      handle: async (_q, res) => {
        const r = await o.readiness();
        sendJson(res, r.ready ? 200 : 503, r);
      },
    },
  ];
  const http = await listenHttp(
    ctx.cfg.httpAddr,
    createHttpHandler([...probes, ...(o.httpRoutes ?? [])], connect as never),
    o.onUpgrade,
  );
  ctx.log.info({ grpc: grpc.address, http: http.address }, "api listening");
  return {
    grpc,
    http,
    async close() {
      // Open Watch streams would otherwise keep the HTTP/2 sessions alive.
      o.health.shutdown();
      o.health.close();
      await Promise.all([grpc.close(), http.close()]);
    },
  };
}
