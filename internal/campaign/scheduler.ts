import type { NatsConnection, Subscription } from "nats";
import type { Logger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import { withTx, type Conn } from "../store/db.js";
import { decodeJson } from "../bus/publish.js";
import type { Fanout, LiveCampaign } from "./fanout.js";
import { CampaignState, Misfire, RunState, ScheduleKind, type CampaignRow, type ControlMessage } from "./model.js";
import { applyMisfire, localDate, nextOccurrence, occurrencesBetween, type CronPlan, type Occurrence } from "./schedule.js";

export interface SchedulerDeps {
  db: Db;
  nc: NatsConnection;
  controlSubject: string;
  fanout: Fanout;
  log: Logger;
  owner: string;
  pollMs: number;
  leaseMs: number;
  misfireGraceMs: number;
  /** Runs fanned out at once by this process. */
  concurrency: number;
  allZones: readonly string[];
}

export function cronPlan(c: Pick<CampaignRow, "cron" | "time_zone" | "local_time" | "end_at">, zones: readonly string[]): CronPlan {
  return { expression: c.cron, timeZone: c.time_zone, localZones: c.local_time ? [...zones] : undefined, endAt: c.end_at };
}

/**
 * The scheduler role. Everything it knows lives in MariaDB, so a restart loses nothing: campaigns
 * carry next_occurrence_at and a planned_through watermark; each occurrence becomes a campaign_runs
 * row (UNIQUE(campaign_id, occurrence_at)) inside the transaction that moves the watermark; runs are
 * claimed with a lease (FOR UPDATE SKIP LOCKED), renewed while fanning out. Any number of scheduler
 * processes may run: they split campaigns and runs between them and never run an occurrence twice.
 */
export function createScheduler(d: SchedulerDeps) {
  const running = new Map<number, { campaignId: number; live: LiveCampaign; done: Promise<unknown> }>();
  let timer: NodeJS.Timeout | undefined;
  let sub: Subscription | undefined;
  let stopped = false;
  let ticking: Promise<void> | undefined;
  let again = false;

  async function materialize(): Promise<number> {
    return withTx(d.db, async (tx) => {
      const [rows] = (await tx.query(
        `SELECT * FROM campaigns WHERE status = ? AND next_occurrence_at <= CURRENT_TIMESTAMP(3)
         ORDER BY next_occurrence_at LIMIT 20 FOR UPDATE SKIP LOCKED`,
        [CampaignState.Scheduled],
      )) as unknown as [CampaignRow[]];
      for (const c of rows) await materializeOne(tx, c);
      return rows.length;
    });
  }

  async function materializeOne(tx: Conn, c: CampaignRow) {
    const now = new Date();
    let due: Occurrence[];
    let next: Date | null;
    if (c.schedule_kind === ScheduleKind.Cron) {
      const plan = cronPlan(c, d.allZones);
      due = occurrencesBetween(plan, c.planned_through ?? c.updated_at, now);
      next = nextOccurrence(plan, now);
    } else {
      const at = c.schedule_at ?? c.next_occurrence_at ?? now;
      due = [{ at, zones: [], catchAll: false, localDate: localDate(at, c.time_zone) }];
      next = null;
    }
    // "now" is always meant to go; "at" and cron occurrences missed during downtime follow the policy.
    const policy = c.schedule_kind === ScheduleKind.Now ? Misfire.FireOnce : c.misfire;
    const grace = c.schedule_kind === ScheduleKind.Now ? Number.MAX_SAFE_INTEGER : d.misfireGraceMs;
    const { fire, skip } = applyMisfire(due, now, grace, policy);
    const local = c.local_time === 1;
    const row = (o: Occurrence, status: number, error: string) => [
      c.id,
      o.at,
      JSON.stringify(local ? o.zones : []),
      local && o.catchAll ? 1 : 0,
      o.localDate,
      status,
      "",
      error,
    ];
    const values = [
      ...fire.map((o) => row(o, RunState.Pending, "")),
      ...skip.map((o) => row(o, RunState.Skipped, "missed while no scheduler ran (misfire policy: skip)")),
    ];
    if (values.length > 0) {
      await tx.query(
        "INSERT IGNORE INTO campaign_runs (campaign_id, occurrence_at, time_zones, catch_all, local_date, status, cursor_state, error) VALUES ?",
        [values],
      );
    }
    await tx.query("UPDATE campaigns SET planned_through = ?, next_occurrence_at = ? WHERE id = ?", [now, next, c.id]);
    if (fire.length || skip.length) {
      d.log.info({ campaignId: c.id, fire: fire.map((o) => o.at.toISOString()), skipped: skip.length }, "campaign occurrences due");
    }
  }

  /** Marks a campaign completed when no occurrence is left and every run is over. */
  async function maybeComplete(campaignId: number) {
    await d.db.query(
      `UPDATE campaigns c SET c.status = ?, c.updated_at = CURRENT_TIMESTAMP(3)
       WHERE c.id = ? AND c.status = ? AND c.next_occurrence_at IS NULL
         AND NOT EXISTS (SELECT 1 FROM campaign_runs r WHERE r.campaign_id = c.id AND r.status IN (?, ?))`,
      [CampaignState.Completed, campaignId, CampaignState.Scheduled, RunState.Pending, RunState.Running],
    );
  }

  async function claim(): Promise<{ runId: number; campaignId: number; live: LiveCampaign } | undefined> {
    return withTx(d.db, async (tx) => {
      const [rows] = (await tx.query(
        `SELECT r.id, r.campaign_id, c.status, c.rate FROM campaign_runs r JOIN campaigns c ON c.id = r.campaign_id
         WHERE r.status IN (?, ?) AND r.occurrence_at <= CURRENT_TIMESTAMP(3)
           AND (r.lease_until IS NULL OR r.lease_until < CURRENT_TIMESTAMP(3)) AND c.status = ?
         ORDER BY r.occurrence_at, r.id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [RunState.Pending, RunState.Running, CampaignState.Scheduled],
      )) as unknown as [{ id: number; campaign_id: number; status: number; rate: number }[]];
      const r = rows[0];
      if (!r) return undefined;
      await tx.query(
        `UPDATE campaign_runs SET owner = ?, status = ?, lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? * 1000 MICROSECOND,
           started_at = COALESCE(started_at, CURRENT_TIMESTAMP(3)) WHERE id = ?`,
        [d.owner, RunState.Running, d.leaseMs, r.id],
      );
      return { runId: Number(r.id), campaignId: Number(r.campaign_id), live: { status: r.status, rate: r.rate } };
    });
  }

  function startRun(runId: number, campaignId: number, live: LiveCampaign) {
    const done = d.fanout
      .run(runId, live, () => stopped)
      .then(
        (outcome) => {
          d.log.debug({ runId, outcome }, "fan-out ended");
          if (outcome !== "paused" && outcome !== "shutdown" && outcome !== "lease_lost") return maybeComplete(campaignId);
          return undefined;
        },
        async (err) => {
          d.log.error({ runId, err: (err as Error).message }, "fan-out failed");
          await d.db
            .query("UPDATE campaign_runs SET status = ?, error = ?, finished_at = CURRENT_TIMESTAMP(3), owner = '', lease_until = NULL WHERE id = ? AND owner = ?", [
              RunState.Failed,
              (err as Error).message.slice(0, 1000),
              runId,
              d.owner,
            ])
            .catch(() => undefined);
          await maybeComplete(campaignId).catch(() => undefined);
        },
      )
      .finally(() => {
        running.delete(runId);
        if (!stopped) kick();
      });
    running.set(runId, { campaignId, live, done });
  }

  async function tick() {
    try {
      while (!stopped && (await materialize()) === 20);
      while (!stopped && running.size < d.concurrency) {
        const c = await claim();
        if (!c) break;
        startRun(c.runId, c.campaignId, c.live);
      }
      await completeIdle();
    } catch (err) {
      d.log.warn({ err: (err as Error).message }, "scheduler tick failed");
    }
  }

  /** One-shot campaigns whose runs all ended elsewhere (e.g. skipped at materialization) are completed here. */
  async function completeIdle() {
    const [rows] = (await d.db.query(
      "SELECT id FROM campaigns WHERE status = ? AND next_occurrence_at IS NULL LIMIT 50",
      [CampaignState.Scheduled],
    )) as unknown as [{ id: number }[]];
    for (const r of rows) await maybeComplete(r.id);
  }

  function kick() {
    if (stopped) return;
    if (ticking) {
      again = true;
      return;
    }
    ticking = tick().finally(() => {
      ticking = undefined;
      if (again) {
        again = false;
        kick();
      }
    });
  }

  async function refresh(campaignId: number) {
    const list = [...running.values()].filter((r) => r.campaignId === campaignId);
    if (list.length === 0) return;
    const l = await d.fanout.loadLive(campaignId);
    if (l) for (const r of list) Object.assign(r.live, l);
  }

  return {
    start() {
      sub = d.nc.subscribe(d.controlSubject);
      void (async () => {
        for await (const m of sub!) {
          try {
            const msg = decodeJson<ControlMessage>(m.data);
            await refresh(msg.campaignId);
          } catch (err) {
            d.log.warn({ err: (err as Error).message }, "bad campaign control message");
          }
          kick();
        }
      })();
      timer = setInterval(kick, d.pollMs);
      kick();
    },
    /** Running runs (for readiness and tests). */
    get active() {
      return running.size;
    },
    async stop() {
      stopped = true;
      if (timer) clearInterval(timer);
      sub?.unsubscribe();
      await ticking;
      // Fan-outs see `stopped` within 100 ms, hand their runs back and return.
      await Promise.all([...running.values()].map((r) => r.done));
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
