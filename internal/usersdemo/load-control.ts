import { setTimeout as sleep } from "node:timers/promises";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import type { GetUsersRequest } from "../../gen/cinema/users/v1/user_directory_pb.js";

// Fault injection and load counters for UserDirectory calls. Tests and benchmarks read the counters to
// prove the platform batches, caps concurrency and rate, and backs off when the service fails.

export interface Faults {
  latencyMs: number;
  /** Share of calls failed with UNAVAILABLE, 0..1. */
  errorRate: number;
  /** Every call fails with UNAVAILABLE. */
  down: boolean;
}

export interface LoadStats {
  calls: Record<string, number>;
  maxConcurrency: number;
  maxBatchSize: number;
  idsRequested: number;
  injectedErrors: number;
  maxCallsPerSecond: number;
}

export interface LoadControl {
  faults(): Faults;
  setFaults(f: Faults): void;
  stats(): LoadStats;
  resetStats(): void;
  /** Counts every call and injects the current faults; install it on UserDirectory only. */
  interceptor: Interceptor;
}

const WINDOW_MS = 1000;

export function validateFaults(f: Faults): string | undefined {
  if (!Number.isFinite(f.errorRate) || f.errorRate < 0 || f.errorRate > 1) return "error_rate must be within 0..1";
  if (!Number.isInteger(f.latencyMs) || f.latencyMs < 0 || f.latencyMs > 600_000) {
    return "latency_ms must be within 0..600000";
  }
  return undefined;
}

export function createLoadControl(initial: Partial<Faults> = {}): LoadControl {
  let faults: Faults = { latencyMs: 0, errorRate: 0, down: false, ...initial };
  const invalid = validateFaults(faults);
  if (invalid) throw new Error(invalid);

  let calls = new Map<string, number>();
  let inFlight = 0;
  let maxConcurrency = 0;
  let maxBatchSize = 0;
  let idsRequested = 0;
  let injectedErrors = 0;
  let maxCallsPerSecond = 0;
  // Start times of recent calls (a sliding one-second window), consumed from `head`.
  let starts: number[] = [];
  let head = 0;

  const noteStart = (t: number) => {
    starts.push(t);
    while (starts[head] <= t - WINDOW_MS) head++;
    maxCallsPerSecond = Math.max(maxCallsPerSecond, starts.length - head);
    if (head > 4096 && head * 2 > starts.length) {
      starts = starts.slice(head);
      head = 0;
    }
  };

  const unavailable = (why: string) => {
    injectedErrors++;
    return new ConnectError(`users-demo: ${why} (injected fault)`, Code.Unavailable);
  };

  const interceptor: Interceptor = (next) => async (req) => {
    const method = req.method.name;
    calls.set(method, (calls.get(method) ?? 0) + 1);
    noteStart(performance.now());
    if (method === "GetUsers" && !req.stream) {
      const n = (req.message as GetUsersRequest).ids.length;
      idsRequested += n;
      maxBatchSize = Math.max(maxBatchSize, n);
    }
    inFlight++;
    maxConcurrency = Math.max(maxConcurrency, inFlight);
    try {
      const f = faults;
      if (f.down) throw unavailable("service is down");
      if (f.latencyMs > 0) await sleep(f.latencyMs, undefined, { signal: req.signal });
      if (f.errorRate > 0 && Math.random() < f.errorRate) throw unavailable("random failure");
      return await next(req);
    } finally {
      inFlight--;
    }
  };

  return {
    faults: () => ({ ...faults }),
    setFaults(f) {
      const err = validateFaults(f);
      if (err) throw new ConnectError(err, Code.InvalidArgument);
      faults = { ...f };
    },
    stats: () => ({
      calls: Object.fromEntries(calls),
      maxConcurrency,
      maxBatchSize,
      idsRequested,
      injectedErrors,
      maxCallsPerSecond,
    }),
    resetStats() {
      calls = new Map();
      // Calls still in flight keep counting down, so inFlight itself is not reset.
      maxConcurrency = inFlight;
      maxBatchSize = 0;
      idsRequested = 0;
      injectedErrors = 0;
      maxCallsPerSecond = 0;
      starts = [];
      head = 0;
    },
    interceptor,
  };
}
