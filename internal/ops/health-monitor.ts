import type { Logger } from "../log/logger.js";
import type { Health } from "./health.js";

export interface HealthMonitorOptions {
  /** Named probes, e.g. { mariadb: () => db.ping(), nats: () => nc.flush() }; a throw means unhealthy. */
  checks: Record<string, () => Promise<void>>;
  intervalMs: number;
  health: Pick<Health, "setStatus">;
  log: Logger;
  /** A probe slower than this counts as failed; default min(intervalMs, 5000). */
  timeoutMs?: number;
  /**
   * gRPC service name -> the checks it needs, e.g. { "notify.v1.NotificationService": ["mariadb"] }.
   * "" (the whole server) always needs every check.
   */
  services?: Record<string, string[]>;
}

export interface HealthMonitor {
  /** Runs the checks now and then every intervalMs (never two rounds at once). */
  start(): void;
  /** Stops the timer and waits for a round in progress. */
  stop(): Promise<void>;
  /** One round: runs every check, updates the statuses, returns which checks passed. */
  runOnce(): Promise<Record<string, boolean>>;
}

/**
 * Turns dependency probes into gRPC health statuses: each check gets its own entry (so `notifyctl health`
 * shows which dependency is down), each mapped service follows its checks, and "" follows all of them.
 * Only transitions are logged, so a long outage is two log lines, not one per interval.
 */
export function createHealthMonitor(opts: HealthMonitorOptions): HealthMonitor {
  const timeoutMs = opts.timeoutMs ?? Math.min(opts.intervalMs, 5000);
  const last = new Map<string, boolean>();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let stopped = true;

  const probe = async (name: string, check: () => Promise<void>) => {
    let t: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check(),
        new Promise<never>((_, reject) => {
          t = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      return { name, ok: true as const };
    } catch (err) {
      return { name, ok: false as const, error: err instanceof Error ? err.message : String(err) };
    } finally {
      clearTimeout(t);
    }
  };

  const runOnce = async () => {
    const results = await Promise.all(Object.entries(opts.checks).map(([n, c]) => probe(n, c)));
    const passed: Record<string, boolean> = {};
    for (const r of results) {
      passed[r.name] = r.ok;
      const before = last.get(r.name);
      if (!r.ok && before !== false) opts.log.warn({ check: r.name, err: r.error }, "health check failing");
      if (r.ok && before === false) opts.log.info({ check: r.name }, "health check recovered");
      last.set(r.name, r.ok);
      opts.health.setStatus(r.name, r.ok ? "SERVING" : "NOT_SERVING");
    }
    const allOk = (names: string[]) => names.every((n) => passed[n] !== false);
    for (const [service, needs] of Object.entries(opts.services ?? {})) {
      opts.health.setStatus(service, allOk(needs) ? "SERVING" : "NOT_SERVING");
    }
    opts.health.setStatus("", allOk(Object.keys(passed)) ? "SERVING" : "NOT_SERVING");
    return passed;
  };

  const loop = () => {
    running = runOnce()
      .catch((err) => opts.log.error({ err }, "health monitor round failed"))
      .finally(() => {
        running = undefined;
        if (!stopped) timer = setTimeout(loop, opts.intervalMs);
      });
  };

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      loop();
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
    runOnce,
  };
}
