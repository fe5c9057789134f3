import { Code, ConnectError } from "@connectrpc/connect";
import { UserDirectory, type User } from "../../gen/cinema/users/v1/user_directory_pb.js";
import { createGrpcClient, type GrpcClient } from "../rpc/grpc-client.js";
import type { Logger } from "../log/logger.js";
import type { BreakerSettings, RampSettings } from "../config/config.js";
import { createBreaker, type Breaker } from "../reliability/breaker.js";
import { classifyUsers } from "../reliability/classify.js";
import { createRamp } from "../reliability/ramp.js";
import { createCallLimiter, type CallLimiter } from "../reliability/limiter.js";

export interface UsersClientOptions {
  addr: string;
  /** Reads (GetUsers, ListUsers) go here when set: a read replica of the user service. */
  replicaAddr?: string;
  /** Calls per second at most. */
  rate: number;
  /** Calls in flight at most. */
  concurrency: number;
  /** Ids per GetUsers call at most. */
  batch: number;
  cacheTtlMs: number;
  /**
   * Users kept at most (the oldest go first). The TTL alone lets the cache grow with the rate: a
   * campaign at 1,600 recipients/s held 8,000 users, about 30 MiB. A user's deliveries on several
   * channels are looked up moments apart, so a small cache keeps its use.
   */
  cacheMax: number;
  timeoutMs: number;
  log: Logger;
  /** A circuit breaker around the service; unset means none. */
  breaker?: BreakerSettings;
  /** How the call rate returns after the breaker closes (with `breaker`). */
  ramp?: RampSettings;
}

export interface UsersClient {
  /** Users by id; ids the directory does not know are absent from the map. */
  getUsers(ids: string[]): Promise<Map<string, User>>;
  getUser(id: string): Promise<User | undefined>;
  confirmEmail(userId: string): Promise<boolean>;
  /** The underlying client for paging (campaign audiences). */
  readonly directory: GrpcClient<typeof UserDirectory>;
  /** Every call to the service passes here (ListUsers paging too), so the caps hold across callers. */
  readonly limiter: CallLimiter;
  /** Open while the service looks down: calls fail fast with UNAVAILABLE and workers wait. */
  readonly breaker?: Breaker;
  close(): void;
}

/** Calls with fewer than a full batch of ids that may be under way at once. */
const PARTIAL_CALLS = 2;

/**
 * The platform's only way to the user service. Concurrent lookups are coalesced into batched
 * GetUsers calls (DataLoader-style: ids asked for in the same tick share a call), every call passes
 * a limiter (rate and concurrency caps, so a campaign cannot overload the service), and
 * results are cached for a few seconds.
 */
export function createUsersClient(o: UsersClientOptions): UsersClient {
  const primary = createGrpcClient(UserDirectory, o.addr, { timeoutMs: o.timeoutMs });
  const reader = o.replicaAddr ? createGrpcClient(UserDirectory, o.replicaAddr, { timeoutMs: o.timeoutMs }) : primary;
  const limiter = createCallLimiter({ concurrency: o.concurrency, rate: o.rate });
  const cache = new Map<string, { user: User | null; until: number }>();
  type Waiter = { resolve: (u: User | undefined) => void; reject: (e: unknown) => void };
  // Ids wait here until a call takes them; each call takes up to `batch` ids when it starts, not when
  // it is queued, so under the rate cap ids pile into full batches instead of each queueing a call of
  // its own (one-id calls would make the rate cap the throughput). A lookup goes out at once while
  // fewer than PARTIAL_CALLS calls are under way; beyond that only full batches do, and the rest wait
  // for the next call — under a campaign's load that keeps calls full (half as many of them) without
  // a timer in front of a lone lookup.
  const pending = new Map<string, Waiter[]>();
  let queued = 0;
  let underWay = 0;

  const breaker = o.breaker
    ? createBreaker({
        name: "users",
        ...o.breaker,
        // Any answer but UNAVAILABLE or a timeout shows the service is back (an empty lookup is cheap).
        probe: async () => {
          try {
            await reader.getUsers({ ids: [] }, { timeoutMs: Math.min(o.timeoutMs, o.breaker!.probeMs) });
          } catch (err) {
            if (classifyUsers(err).dependencyDown) throw err;
          }
        },
        log: o.log,
      })
    : undefined;
  if (breaker) {
    const ramp = createRamp({
      ...(o.ramp ?? { durationMs: 60_000, startFraction: 0.1 }),
      apply: (f) => limiter.setRate(Math.max(1, o.rate * f)),
    });
    breaker.onChange((up) => up && ramp.start());
  }

  // Every call goes through the breaker: fail fast while it is open, count the failures that say the
  // service is down (not a NOT_FOUND or a bad request).
  const guarded = async <T>(call: () => Promise<T>): Promise<T> => {
    if (!breaker) return limiter.schedule(call);
    if (!breaker.available) throw new ConnectError("user service unavailable (circuit open)", Code.Unavailable);
    try {
      const r = await limiter.schedule(call);
      // A call that found nothing left to ask (undefined) says nothing about the service.
      if (r !== undefined) breaker.success();
      return r;
    } catch (err) {
      if (classifyUsers(err).dependencyDown) breaker.failure(err);
      throw err;
    }
  };

  const takeBatch = () => {
    const taken = new Map<string, Waiter[]>();
    for (const [id, ws] of pending) {
      if (taken.size >= o.batch) break;
      taken.set(id, ws);
      pending.delete(id);
    }
    return taken;
  };

  const pump = () => {
    for (;;) {
      const unclaimed = pending.size - queued * o.batch;
      if (unclaimed <= 0 || (underWay >= PARTIAL_CALLS && unclaimed < o.batch)) return;
      startCall();
    }
  };

  const startCall = () => {
    queued++;
    underWay++;
    let taken: Map<string, Waiter[]> | undefined;
    guarded(async () => {
      queued--;
      taken = takeBatch();
      return taken.size ? reader.getUsers({ ids: [...taken.keys()] }) : undefined;
    }).then(
      (res) => {
        if (!res || !taken) return;
        const until = Date.now() + o.cacheTtlMs;
        const found = new Map(res.users.map((u) => [u.id, u]));
        for (const [id, ws] of taken) {
          // Re-inserted at the end, so the map stays ordered by expiry and the sweep below stops at
          // the first live entry: the cache holds a few seconds of users, however many a campaign has.
          cache.delete(id);
          cache.set(id, { user: found.get(id) ?? null, until });
          for (const w of ws) w.resolve(found.get(id));
        }
        const now = Date.now();
        for (const [k, v] of cache) {
          if (v.until >= now && cache.size <= o.cacheMax) break;
          cache.delete(k);
        }
      },
      (err) => {
        // Refused before it started (circuit open): the ids it would have taken fail now.
        if (!taken) {
          queued--;
          taken = takeBatch();
        }
        for (const ws of taken.values()) for (const w of ws) w.reject(err);
      },
    ).finally(() => {
      underWay--;
      pump();
    });
  };

  const load = (id: string) =>
    new Promise<User | undefined>((resolve, reject) => {
      const hit = cache.get(id);
      if (hit && hit.until > Date.now()) return resolve(hit.user ?? undefined);
      const list = pending.get(id);
      if (list) list.push({ resolve, reject });
      else pending.set(id, [{ resolve, reject }]);
      pump();
    });

  return {
    async getUsers(ids) {
      const users = await Promise.all(ids.map(load));
      const out = new Map<string, User>();
      users.forEach((u, i) => u && out.set(ids[i], u));
      return out;
    },
    getUser: load,
    async confirmEmail(userId) {
      const r = await guarded(() => primary.confirmEmail({ userId }));
      cache.delete(userId);
      return r.newlyConfirmed;
    },
    directory: reader,
    limiter,
    breaker,
    close() {
      breaker?.close();
      primary.close();
      if (reader !== primary) reader.close();
    },
  };
}

/** True when a user-service error is worth retrying later (see internal/reliability/classify.ts). */
export function isTransientUsersError(err: unknown): boolean {
  return classifyUsers(err).transient;
}
