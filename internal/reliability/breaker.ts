import type { Logger } from "../log/logger.js";
import { createAvailability, type Availability } from "./availability.js";

export type BreakerState = "closed" | "open";

export interface BreakerOptions {
  /** The dependency, as it appears in logs and /readyz: "users", "smtp:primary"... */
  name: string;
  /** Failures within the window that open the breaker. */
  threshold: number;
  windowMs: number;
  /** How often an open breaker probes the dependency. */
  probeMs: number;
  /**
   * Share of calls in the window that must have failed too (default 0.5), so a few failures among
   * thousands of successes (one bad mailbox, one slow query) do not cut a healthy dependency off.
   */
  minFailureRatio?: number;
  /** A cheap call that succeeds when the dependency is back (an SMTP MAIL FROM, an empty lookup). */
  probe(): Promise<void>;
  log: Logger;
}

export interface BreakerStatus {
  state: BreakerState;
  /** Failures in the current window. */
  failures: number;
  since: string;
  lastError?: string;
  opened: number;
}

export interface Breaker extends Availability {
  readonly name: string;
  readonly state: BreakerState;
  /** Records a call that went through. */
  success(): void;
  /** Records a failure that says the dependency is down (not a failure of one request). */
  failure(err: unknown): void;
  status(): BreakerStatus;
  /** Stops the probe timer. */
  close(): void;
}

/** Thrown instead of calling a dependency whose breaker is open; always worth retrying later. */
export class BreakerOpenError extends Error {
  readonly transient = true;
  constructor(readonly dependency: string) {
    super(`${dependency} unavailable (circuit open)`);
    this.name = "BreakerOpenError";
  }
}

const BUCKET_MS = 500;

/**
 * A count-based circuit breaker with an out-of-band probe. Closed: calls go through and failures are
 * counted in a sliding window of 0.5 s buckets; `threshold` failures (that are also at least
 * `minFailureRatio` of the calls) open it. Open: callers see `available = false` and wait or fail
 * fast; a probe runs every `probeMs`, and the first one that succeeds closes the breaker.
 *
 * Not opossum: its half-open state lets the next real call through as the trial, but while open our
 * consumers stop pulling, so no real call would ever arrive; and a probe must not be a real email.
 */
export function createBreaker(o: BreakerOptions): Breaker {
  const avail = createAvailability(true);
  const ratio = o.minFailureRatio ?? 0.5;
  let state: BreakerState = "closed";
  let since = new Date();
  let lastError: string | undefined;
  let opened = 0;
  let buckets: { at: number; ok: number; failed: number }[] = [];
  let timer: NodeJS.Timeout | undefined;
  let probing = false;
  let closed = false;
  const log = o.log.child({ breaker: o.name });

  const bucket = () => {
    const now = Date.now();
    const at = now - (now % BUCKET_MS);
    buckets = buckets.filter((b) => b.at > now - o.windowMs);
    let b = buckets[buckets.length - 1];
    if (!b || b.at !== at) {
      b = { at, ok: 0, failed: 0 };
      buckets.push(b);
    }
    return b;
  };
  const totals = () => {
    bucket();
    let ok = 0;
    let failed = 0;
    for (const b of buckets) {
      ok += b.ok;
      failed += b.failed;
    }
    return { ok, failed };
  };

  const probeOnce = async () => {
    if (probing || state !== "open" || closed) return;
    probing = true;
    try {
      await o.probe();
      if (state !== "open" || closed) return;
      const openForMs = Date.now() - since.getTime();
      state = "closed";
      since = new Date();
      buckets = [];
      clearInterval(timer);
      timer = undefined;
      log.info({ dependency: o.name, openForMs }, "circuit closed: dependency is back");
      avail.set(true);
    } catch (err) {
      lastError = errText(err);
      log.debug({ dependency: o.name, err: lastError }, "probe failed; circuit stays open");
    } finally {
      probing = false;
    }
  };

  const open = () => {
    state = "open";
    since = new Date();
    opened++;
    log.warn({ dependency: o.name, err: lastError }, "circuit open: dependency looks down; pausing its consumers and probing");
    timer = setInterval(() => void probeOnce(), o.probeMs);
    timer.unref();
    avail.set(false);
  };

  return {
    name: o.name,
    get state() {
      return state;
    },
    get available() {
      return avail.available;
    },
    whenAvailable: avail.whenAvailable,
    onChange: avail.onChange,
    success() {
      if (state === "closed") bucket().ok++;
    },
    failure(err) {
      lastError = errText(err);
      if (state !== "closed" || closed) return;
      bucket().failed++;
      const t = totals();
      if (t.failed >= o.threshold && t.failed >= ratio * (t.ok + t.failed)) open();
    },
    status() {
      return {
        state,
        failures: state === "closed" ? totals().failed : 0,
        since: since.toISOString(),
        ...(lastError ? { lastError } : {}),
        opened,
      };
    },
    close() {
      closed = true;
      clearInterval(timer);
      timer = undefined;
    },
  };
}

function errText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").slice(0, 300);
}
