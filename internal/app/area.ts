import type { ConnectRouter } from "@connectrpc/connect";
import type { Role } from "../config/config.js";
import type { Requirement, CustomAuthenticator } from "../auth/interceptor.js";
import type { ConsumerLoop } from "../bus/consumer.js";
import type { Ledger } from "../delivery/ledger.js";
import type { Decorator } from "../delivery/worker.js";
import type { PlanPolicy } from "../planner/policy.js";
import type { HttpRoute } from "../server/http-routes.js";
import type { Health } from "../ops/health.js";
import type { AppContext } from "./context.js";

/**
 * What an area of the platform (preferences, campaigns, events, websocket, operations...) can plug
 * into the running server. Areas are listed in areas.ts; each adds itself without editing the core.
 */
export interface AreaSetup {
  ctx: AppContext;
  roles: ReadonlySet<Role>;
  ledger: Ledger;
  health: Health;
  /** Running consumer loops by name (for pausing on breaker trips, metrics). */
  consumers: Map<string, ConsumerLoop>;
  /** The planner asks these, in order, before creating each delivery. */
  addPlanPolicy(p: PlanPolicy): void;
  /** Workers run these before rendering (unsubscribe links, headers). */
  addDecorator(d: Decorator): void;
  /** Connect services, mounted on both listeners when the api role runs. */
  addService(register: (router: ConnectRouter) => void, rules: Record<string, Requirement>): void;
  /** Plain HTTP routes on the HTTP/1.1 listener (pages, redirects, websocket upgrades...). */
  addHttpRoute(route: HttpRoute): void;
  /** Authenticators for methods whose rule is { custom: name } (admin sessions, user JWTs). */
  addAuthenticator(name: string, auth: CustomAuthenticator): void;
  /** Extra /readyz details; ready=false makes the process not ready. */
  addReadiness(name: string, check: () => Promise<{ ready: boolean; detail: unknown }>): void;
  /** Handles WebSocket upgrades on the HTTP listener (the gateway). */
  setUpgradeHandler(h: NonNullable<Parameters<typeof import("../server/listen.js").listenHttp>[2]>): void;
}

export interface AreaHandle {
  /** Called after the core roles started (the planner and workers are pulling). */
  started?(): Promise<void> | void;
  /** Called on shutdown, before the core stops, in reverse order of areas. */
  stop?(): Promise<void>;
}

export interface Area {
  name: string;
  setup(s: AreaSetup): Promise<AreaHandle | void> | AreaHandle | void;
}
