import { createHash } from "node:crypto";
import type { JetStreamClient } from "nats";
import type { Logger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import { withTx } from "../store/db.js";
import { newId } from "../ids/ids.js";
import type { Planner } from "../planner/planner.js";
import { getNotification, type NotificationRow } from "../notification/queries.js";
import { DeliveryState, NotificationState } from "../notification/model.js";
import type { TemplateCatalog } from "../template/index.js";
import { isTransientUsersError, type UsersClient } from "../users/client.js";
import { carryProfile } from "../users/profile.js";
import { isTransientDbError } from "../store/db.js";
import { createAudienceReader, START, type Cursor } from "./audience.js";
import { GENERATORS, type GeneratorOutput } from "./generators.js";
import { CampaignState, RunState, type CampaignRow, type RunRow, type SegmentSpec } from "./model.js";
import { createPacer } from "../reliability/pacer.js";
import { FanoutStopped, pacedPublisher } from "./pacing.js";
import type { OutMessage } from "../bus/publish.js";
import { cancelPendingDeliveries } from "./store.js";

export interface FanoutDeps {
  db: Db;
  js: JetStreamClient;
  planner: Pick<Planner, "plan" | "record">;
  templates: TemplateCatalog;
  users: Pick<UsersClient, "directory" | "limiter" | "breaker">;
  log: Logger;
  /** This process's name in campaign_runs.owner (fencing token). */
  owner: string;
  pageSize: number;
  leaseMs: number;
  /**
   * Deliveries of the run still pending or in flight, at most, before the next page: a rate above what
   * the workers manage must not pile the whole audience into the broker (pause and cancel would then
   * lag, and the reconciler would mistake the old backlog for lost work).
   */
  maxBacklog: number;
  /** Zones a local-time campaign is evaluated in (the catch-all pass covers everyone else). */
  allZones: readonly string[];
  /** Packs the delivery messages of each paced slice (chunks of deliveries, delivery/chunks.ts). */
  pack?: (msgs: OutMessage[]) => OutMessage[];
}

/** The live view a running fan-out has of its campaign: refreshed every second and on control messages. */
export interface LiveCampaign {
  status: number;
  rate: number;
}

export type RunOutcome = "completed" | "paused" | "cancelled" | "skipped" | "failed" | "lease_lost" | "shutdown";

/**
 * Runs (or resumes) one campaign run: one notifications row carries the shared data, then each
 * audience page becomes ledger rows (planner.record: deterministic ids, INSERT IGNORE) published
 * through a token bucket at the campaign's rate, and the cursor is checkpointed after each page. A run
 * killed at any point resumes from its checkpoint; the page it was on is planned again, which creates
 * nothing new and republishes only what is still pending.
 */
export function createFanout(d: FanoutDeps) {
  async function loadLive(campaignId: number): Promise<LiveCampaign | undefined> {
    const [rows] = (await d.db.query("SELECT status, rate FROM campaigns WHERE id = ?", [campaignId])) as unknown as [
      LiveCampaign[],
    ];
    return rows[0];
  }

  /** Fenced update: affects the row only while this process still owns the run. */
  async function fenced(runId: number, set: string, args: unknown[]): Promise<boolean> {
    const [r] = (await d.db.query(`UPDATE campaign_runs SET ${set} WHERE id = ? AND owner = ?`, [...args, runId, d.owner])) as unknown as [
      { affectedRows: number },
    ];
    return r.affectedRows === 1;
  }

  async function finish(runId: number, status: number, error = ""): Promise<boolean> {
    return fenced(runId, "status = ?, error = ?, finished_at = CURRENT_TIMESTAMP(3), lease_until = NULL, owner = ''", [
      status,
      error.slice(0, 1000),
    ]);
  }

  async function prepareGenerator(c: CampaignRow, run: RunRow): Promise<GeneratorOutput> {
    const g = c.generator ? GENERATORS[c.generator] : undefined;
    if (!g) return {};
    return g({
      db: d.db,
      segment: JSON.parse(c.segment) as SegmentSpec,
      occurrenceAt: run.occurrence_at,
      localDate: run.local_date,
      fallbackZone: c.time_zone,
    });
  }

  /** Creates the run's notification once (in the same transaction that links it to the run). */
  async function ensureNotification(c: CampaignRow, run: RunRow, gen: GeneratorOutput): Promise<NotificationRow> {
    if (run.notification_id) {
      const n = await getNotification(d.db, run.notification_id);
      if (n) return n;
    }
    const pinned = await d.templates.resolveForSend(c.template_key, c.template_version || undefined, "template");
    const data = { ...(JSON.parse(c.data) as Record<string, unknown>), ...gen.data };
    d.templates.validateData(pinned, data, "data");
    const id = newId();
    const key = `campaign-${c.id}-run-${run.id}`;
    await withTx(d.db, async (tx) => {
      await tx.query(
        `INSERT INTO notifications (id, source, idempotency_key, payload_hash, template_key, template_version,
           template_version_id, category, channels, locale, sender_id, data, recipients, recipient_count, status,
           campaign_id, created_at, planned_at)
         VALUES (?, 'campaign', ?, ?, ?, ?, ?, ?, ?, ?, '', ?, '[]', 0, ?, ?, CURRENT_TIMESTAMP(3), CURRENT_TIMESTAMP(3))`,
        [
          id,
          key,
          createHash("sha256").update(key).digest("hex"),
          pinned.key,
          pinned.version,
          pinned.versionId,
          c.category || pinned.category,
          c.channels || pinned.channels.join(","),
          c.locale,
          JSON.stringify(data),
          NotificationState.Planned,
          c.id,
        ],
      );
      const [r] = (await tx.query("UPDATE campaign_runs SET notification_id = ? WHERE id = ? AND owner = ? AND notification_id IS NULL", [
        id,
        run.id,
        d.owner,
      ])) as unknown as [{ affectedRows: number }];
      if (r.affectedRows !== 1) throw new FanoutStopped("lease_lost");
    });
    const n = await getNotification(d.db, id);
    if (!n) throw new Error(`notification ${id} vanished`);
    return n;
  }

  /**
   * Runs a claimed run until it completes, the campaign is paused or cancelled, or the lease is lost.
   * `live` is updated by the caller (control messages); this function also refreshes it every second.
   */
  async function run(runId: number, live: LiveCampaign, stopping: () => boolean): Promise<RunOutcome> {
    const [rows] = (await d.db.query("SELECT * FROM campaign_runs WHERE id = ?", [runId])) as unknown as [RunRow[]];
    const r = rows[0];
    const [crow] = (await d.db.query("SELECT * FROM campaigns WHERE id = ?", [r?.campaign_id ?? 0])) as unknown as [CampaignRow[]];
    const c = crow[0];
    if (!r || !c) return "failed";
    const log = d.log.child({ campaignId: c.id, runId });
    let leaseLost = false;
    const check = () => {
      if (leaseLost) throw new FanoutStopped("lease_lost");
      if (stopping()) throw new FanoutStopped("shutdown");
      if (live.status === CampaignState.Cancelled) throw new FanoutStopped("cancelled");
      if (live.status !== CampaignState.Scheduled) throw new FanoutStopped("paused");
    };
    // One timer renews the lease and re-reads status and rate, so a change made through another API
    // instance reaches this fan-out within a second even if its control message was lost.
    const tick = setInterval(() => {
      void (async () => {
        try {
          const l = await loadLive(c.id);
          if (l) Object.assign(live, l);
          const ok = await fenced(runId, "lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? * 1000 MICROSECOND", [d.leaseMs]);
          if (!ok) leaseLost = true;
        } catch (err) {
          log.warn({ err: (err as Error).message }, "lease renewal failed");
        }
      })();
    }, Math.min(1000, Math.floor(d.leaseMs / 3)));

    let n: NotificationRow | undefined;
    try {
      let gen: GeneratorOutput;
      try {
        gen = await prepareGenerator(c, r);
        if (gen.skip && !r.notification_id) {
          await finish(runId, RunState.Skipped, gen.skip);
          log.info({ reason: gen.skip }, "campaign run skipped");
          return "skipped";
        }
        n = await ensureNotification(c, r, gen);
      } catch (err) {
        if (err instanceof FanoutStopped || isTransientDbError(err)) throw err;
        await finish(runId, RunState.Failed, (err as Error).message);
        log.warn({ err: (err as Error).message }, "campaign run failed");
        return "failed";
      }
      const segment = gen.segment ?? (JSON.parse(c.segment) as SegmentSpec);
      const reader = createAudienceReader(
        { db: d.db, users: d.users, pageSize: d.pageSize },
        {
          audienceKind: c.audience_kind,
          segment,
          campaignId: c.id,
          zones: JSON.parse(r.time_zones) as string[],
          catchAll: r.catch_all === 1,
          allZones: d.allZones,
          localDate: r.local_date,
          keep: gen.keep,
        },
      );
      const pacer = createPacer({ rate: () => live.rate, check });
      let published = 0;
      const publish = pacedPublisher(
        d.js,
        pacer,
        (k) => {
          published += k;
        },
        d.pack,
      );
      const channels = Math.max(1, n.channels.split(",").filter(Boolean).length);
      let cursor: Cursor = r.cursor_state ? (JSON.parse(r.cursor_state) as Cursor) : START;
      let backoff = 500;
      const backlog = async () => {
        // Held deliveries (quiet hours) wait in the outbox, not the broker: they do not count.
        const [rows] = (await d.db.query(
          `SELECT COUNT(*) AS n FROM (SELECT 1 FROM deliveries WHERE notification_id = ? AND status IN (?, ?)
             AND not_before IS NULL LIMIT ?) b`,
          [n!.id, DeliveryState.Pending, DeliveryState.Sending, d.maxBacklog + 1],
        )) as unknown as [{ n: number }[]];
        return Number(rows[0].n);
      };
      while (!cursor.done) {
        check();
        try {
          while ((await backlog()) > d.maxBacklog) {
            check();
            await new Promise((res) => setTimeout(res, 250));
          }
          const page = await reader.page(cursor);
          published = 0;
          let created = 0;
          if (page.userIds.length > 0) {
            const planned = await d.planner.plan(n, page.userIds.map((userId) => ({ userId })));
            if (page.users) {
              // The workers render from these records instead of asking the user service again.
              const at = Date.now();
              const profiles = new Map(page.users.map((u) => [u.id, carryProfile(u, at)]));
              for (const p of planned) p.profile = profiles.get(p.userId);
            }
            created = (await d.planner.record(n, planned, publish)).created;
          }
          const ok = await fenced(
            runId,
            `cursor_state = ?, planned = planned + ?, published = published + ?, audience_total = audience_total + ?,
             lease_until = CURRENT_TIMESTAMP(3) + INTERVAL ? * 1000 MICROSECOND`,
            [JSON.stringify(page.next), created, published, page.phaseTotal ?? 0, d.leaseMs],
          );
          if (!ok) throw new FanoutStopped("lease_lost");
          if (created > 0) {
            await d.db.query("UPDATE notifications SET recipient_count = recipient_count + ? WHERE id = ?", [
              Math.round(created / channels),
              n.id,
            ]);
          }
          cursor = page.next;
          backoff = 500;
        } catch (err) {
          if (err instanceof FanoutStopped) throw err;
          if (!isTransientDbError(err) && !isTransientUsersError(err)) throw err;
          // The user service, the database or the broker is struggling: retry the same page later.
          log.warn({ err: (err as Error).message, retryInMs: backoff }, "fan-out page failed; retrying");
          await new Promise((res) => setTimeout(res, backoff));
          backoff = Math.min(backoff * 2, 30_000);
        }
      }
      await finish(runId, RunState.Completed);
      log.info("campaign run completed");
      return "completed";
    } catch (err) {
      if (err instanceof FanoutStopped) {
        if (err.reason === "cancelled") {
          if (n) await cancelPendingDeliveries(d.db, n.id);
          await finish(runId, RunState.Cancelled, "cancelled");
          return "cancelled";
        }
        if (err.reason === "lease_lost") {
          log.warn("lost the run's lease; another scheduler continues it");
          return "lease_lost";
        }
        // Paused or shutting down: give the run back; whoever claims it next resumes at the checkpoint.
        await fenced(runId, "owner = '', lease_until = NULL", []);
        return err.reason === "paused" ? "paused" : "shutdown";
      }
      throw err;
    } finally {
      clearInterval(tick);
    }
  }

  return { run, loadLive };
}

export type Fanout = ReturnType<typeof createFanout>;
