import type { ConnectRouter } from "@connectrpc/connect";
import type { Role } from "../config/config.js";
import type { Requirement, CustomAuthenticator } from "../auth/interceptor.js";
import type { JsMsg } from "nats";
import type { ConsumerLoop, DeadLetterInfo } from "../bus/consumer.js";
import type { Ledger } from "../delivery/ledger.js";
import type { Decorator, FailureListener, WorkerDeps } from "../delivery/worker.js";
import type { PlannedDelivery } from "../planner/planner.js";
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
  /** Every area's plan policies as one (read at each call), for areas that plan deliveries themselves (campaign fan-out). */
  readonly planPolicy: PlanPolicy;
  /** Workers run these before rendering (unsubscribe links, headers). */
  addDecorator(d: Decorator): void;
  /** Workers call these after a permanent channel failure (hard bounces feed the suppression list). */
  addFailureListener(l: FailureListener): void;
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
  /** Keeps what a consumer gave up on (the dead-letter inbox); runs before the message is terminated. */
  addDeadLetterSink(sink: DeadLetterSink): void;
  /** Hooks called as work passes each stage of the pipeline (metrics). */
  observe(o: PipelineObserver): void;
  /** A gauge an area publishes on /metrics (e.g. notify_ws_connections), read at each scrape. */
  addMetric(m: MetricSource): void;
  /** Every MetricSource added so far; areas set up later add to the same list. */
  readonly metricSources: readonly MetricSource[];
  /** Reports to every observer: for areas that run a stage of their own (a campaign's planner, the event router's acceptor). */
  readonly pipeline: Required<PipelineObserver>;
}

/**
 * Called with a message its consumer gives up on: its attempts ran out, or it is poison. `source` is
 * the channel name or "planner". Throwing leaves the message to the broker (see ConsumerLoopOptions).
 */
export type DeadLetterSink = (source: string, msg: JsMsg, info: DeadLetterInfo) => Promise<void>;

/** Stage hooks; every member is optional. They run inline on the hot path, so they must be cheap. */
export interface PipelineObserver {
  /** Notifications committed by an acceptor (repeats of an idempotency key not counted); source: api, events. */
  accepted?(count: number, source?: string): void;
  /** Outbox rows the relay published in one round, and how long the round took. */
  relayed?(count: number, ms: number): void;
  /** A Send planned in the process that accepted it (planner/handoff.ts): planned there, or left to the relay. */
  handedOff?(outcome: "planned" | "failed"): void;
  /** A delivery made by the process that planned it (delivery/local.ts): its first attempt's outcome. */
  local?(channel: string, outcome: "delivered" | "retry" | "error"): void;
  /** Deliveries the planner created (first time only) and those it published at once. */
  planned?(created: readonly PlannedDelivery[], published: readonly PlannedDelivery[]): void;
  /** Each worker outcome (WorkerDeps.observe). */
  delivery?: NonNullable<WorkerDeps["observe"]>;
  /** A delivery whose attempts ran out. */
  dead?(channel: string): void;
}

export interface MetricSource {
  /** Prometheus name, e.g. notify_ws_connections. */
  name: string;
  help: string;
  labelNames?: string[];
  /** One value, or one per label set. */
  read(): number | { labels: Record<string, string>; value: number }[];
}

/**
 * One observer that calls all of them. A throwing observer is ignored: metrics must never turn a sent
 * email into a retried one.
 */
export function combineObservers(list: readonly PipelineObserver[]): Required<PipelineObserver> {
  const each =
    <K extends keyof PipelineObserver>(k: K) =>
    (...args: Parameters<NonNullable<PipelineObserver[K]>>) => {
      for (const o of list) {
        try {
          (o[k] as ((...a: typeof args) => void) | undefined)?.(...args);
        } catch {
          // see above
        }
      }
    };
  return {
    accepted: each("accepted"),
    relayed: each("relayed"),
    handedOff: each("handedOff"),
    local: each("local"),
    planned: each("planned"),
    delivery: each("delivery"),
    dead: each("dead"),
  };
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
