import { create } from "@bufbuild/protobuf";
import { Code, ConnectError, type ConnectRouter } from "@connectrpc/connect";
import {
  Health as HealthService,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as Wire,
  HealthListResponseSchema,
} from "../../gen/health/v1/health_pb.js";

export type ServingStatus = "SERVING" | "NOT_SERVING";

export interface Health {
  /** Mounts grpc.health.v1.Health (Check, Watch, List) on a Connect router. */
  routes(router: ConnectRouter): void;
  /** Sets the status of a service; "" is the server as a whole. Watchers see the change at once. */
  setStatus(service: string, status: ServingStatus): void;
  getStatus(service: string): ServingStatus | undefined;
  /** A snapshot of every known status. */
  statuses(): Record<string, ServingStatus>;
  /**
   * For graceful shutdown: every service becomes NOT_SERVING (so load balancers and probes drain the
   * server) and later setStatus calls are ignored, so a health monitor cannot flip it back.
   */
  shutdown(): void;
  /** Ends every open Watch stream; an http2 server's close() waits for them otherwise. */
  close(): void;
}

export interface HealthOptions {
  /** Initial statuses; default { "": "SERVING" } as in grpc-go, the process being up. */
  initial?: Record<string, ServingStatus>;
}

export function createHealth(opts: HealthOptions = {}): Health {
  const statuses = new Map<string, ServingStatus>(Object.entries(opts.initial ?? { "": "SERVING" }));
  let frozen = false;
  let closed = false;
  // One promise for "something changed", replaced on every change; each watcher re-reads its status.
  let changed = deferred();
  const notify = () => {
    const d = changed;
    changed = deferred();
    d.resolve();
  };
  const nextChange = (signal: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      const onAbort = () => resolve();
      signal.addEventListener("abort", onAbort, { once: true });
      void changed.promise.then(() => {
        signal.removeEventListener("abort", onAbort);
        resolve();
      });
    });
  const wire = (service: string) => {
    const s = statuses.get(service);
    return s === undefined ? Wire.SERVICE_UNKNOWN : Wire[s];
  };

  return {
    routes(router) {
      router.service(HealthService, {
        check(req) {
          if (!statuses.has(req.service)) {
            throw new ConnectError(`unknown service ${JSON.stringify(req.service)}`, Code.NotFound);
          }
          return create(HealthCheckResponseSchema, { status: wire(req.service) });
        },
        async *watch(req, ctx) {
          let sent: Wire | undefined;
          while (!closed && !ctx.signal.aborted) {
            const now = wire(req.service);
            if (now !== sent) {
              sent = now;
              yield create(HealthCheckResponseSchema, { status: now });
            }
            await nextChange(ctx.signal);
          }
        },
        list() {
          const out: Record<string, { status: Wire }> = {};
          for (const name of statuses.keys()) out[name] = { status: wire(name) };
          return create(HealthListResponseSchema, { statuses: out });
        },
      });
    },
    setStatus(service, status) {
      if (frozen || statuses.get(service) === status) return;
      statuses.set(service, status);
      notify();
    },
    getStatus: (service) => statuses.get(service),
    statuses: () => Object.fromEntries(statuses),
    shutdown() {
      for (const name of statuses.keys()) statuses.set(name, "NOT_SERVING");
      frozen = true;
      notify();
    },
    close() {
      closed = true;
      notify();
    },
  };
}

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}
