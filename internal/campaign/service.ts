import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { NatsConnection } from "nats";
import { CampaignService } from "../../gen/notify/v1/campaign_service_pb.js";
import { callerName, type Requirement } from "../auth/interceptor.js";
import { encodeJson } from "../bus/publish.js";
import { invalid, LIMITS } from "../notification/validate.js";
import type { Db } from "../store/db.js";
import type { TemplateCatalog } from "../template/index.js";
import type { UsersClient } from "../users/client.js";
import { estimateAudience } from "./audience.js";
import { toCampaign, toProgress } from "./convert.js";
import { AudienceKind, CampaignState, ScheduleKind, type ControlMessage, type SegmentSpec } from "./model.js";
import { watchProgress } from "./progress.js";
import { cronPlan } from "./scheduler.js";
import { localDate, nextOccurrence } from "./schedule.js";
import {
  appendIds,
  cancelOpenWork,
  deliveryCounts,
  getCampaign,
  insertCampaign,
  listCampaigns,
  listRuns,
  notFound,
  requireCampaign,
  setRate,
  transition,
  updateDraft,
} from "./store.js";
import { normalizeAudience, normalizeSpec, validateRate } from "./validate.js";

export interface CampaignServiceDeps {
  db: Db;
  nc: NatsConnection;
  controlSubject: string;
  templates: TemplateCatalog;
  users: Pick<UsersClient, "directory" | "limiter" | "breaker">;
  channels: () => string[];
  maxRate: number;
  maxAudienceIds: number;
  allZones: readonly string[];
}

const S = "notify.v1.CampaignService";

/**
 * Reads need `read`; every change needs `manage` (the admin panel's managers; `admin` implies it): a
 * campaign can mail every user of the cinema, which is a manager's decision, not something an
 * internal service with a `send` key should be able to do.
 */
export const CAMPAIGN_RULES: Record<string, Requirement> = {
  [`${S}/Get`]: { scope: "read" },
  [`${S}/List`]: { scope: "read" },
  [`${S}/EstimateAudience`]: { scope: "read" },
  [`${S}/WatchProgress`]: { scope: "read" },
  [`${S}/Create`]: { scope: "manage" },
  [`${S}/Update`]: { scope: "manage" },
  [`${S}/AppendAudience`]: { scope: "manage" },
  [`${S}/Schedule`]: { scope: "manage" },
  [`${S}/Pause`]: { scope: "manage" },
  [`${S}/Resume`]: { scope: "manage" },
  [`${S}/Cancel`]: { scope: "manage" },
  [`${S}/SetRate`]: { scope: "manage" },
};

const USER_ID = /^[A-Za-z0-9_.:@-]+$/;
const MAX_CHUNK = 10_000;

/** Connect handlers; they validate, call the store, and tell running fan-outs over the control subject. */
export function createCampaignService(d: CampaignServiceDeps): ServiceImpl<typeof CampaignService> {
  const limits = { maxRate: d.maxRate };
  const tell = (campaignId: number) => d.nc.publish(d.controlSubject, encodeJson({ campaignId } satisfies ControlMessage));
  const id = (v: bigint) => Number(v);

  return {
    async create(req, ctx) {
      const { spec } = await normalizeSpec(req.spec, { templates: d.templates, channels: d.channels(), limits });
      const cid = await insertCampaign(d.db, spec, callerName(ctx));
      return { campaign: toCampaign((await getCampaign(d.db, cid))!) };
    },

    async update(req) {
      const c = await requireCampaign(d.db, id(req.campaignId));
      if (c.status !== CampaignState.Draft) throw new ConnectError(`campaign ${c.id} is no longer a draft; only drafts can be edited`, Code.FailedPrecondition);
      const { spec } = await normalizeSpec(req.spec, { templates: d.templates, channels: d.channels(), limits });
      await updateDraft(d.db, c.id, spec);
      return { campaign: toCampaign((await getCampaign(d.db, c.id))!) };
    },

    async get(req) {
      const c = await requireCampaign(d.db, id(req.campaignId));
      const runs = await listRuns(d.db, c.id, 20);
      const progress = [];
      for (const r of runs) progress.push(toProgress(r, r.notification_id ? await deliveryCounts(d.db, r.notification_id) : new Map()));
      return { campaign: toCampaign(c), runs: progress };
    },

    async list(req) {
      const size = req.pageSize || 50;
      if (size > 200) throw invalid("page_size", "at most 200");
      let beforeId: number | undefined;
      if (req.pageToken) {
        beforeId = Number(Buffer.from(req.pageToken, "base64url").toString());
        if (!Number.isInteger(beforeId) || beforeId <= 0) throw invalid("page_token", "not a token from List");
      }
      const rows = await listCampaigns(d.db, { status: req.status || undefined, limit: size + 1, beforeId });
      const page = rows.slice(0, size);
      return {
        campaigns: page.map(toCampaign),
        nextPageToken: rows.length > size ? Buffer.from(String(page.at(-1)!.id)).toString("base64url") : "",
      };
    },

    async estimateAudience(req) {
      let a: { kind: number; segment: SegmentSpec; campaignId?: number; tz: string };
      if (req.campaignId) {
        const c = await requireCampaign(d.db, id(req.campaignId));
        a = { kind: c.audience_kind, segment: JSON.parse(c.segment) as SegmentSpec, campaignId: c.id, tz: c.time_zone };
      } else {
        const n = normalizeAudience(req.audience, "audience");
        if (n.kind === AudienceKind.Ids) throw invalid("audience", "an id list is counted through its campaign: pass campaign_id");
        a = { kind: n.kind, segment: n.segment, tz: "UTC" };
      }
      const count = await estimateAudience(
        { db: d.db, users: d.users, pageSize: 1 },
        { kind: a.kind, segment: a.segment, campaignId: a.campaignId, localDate: localDate(new Date(), a.tz) },
      );
      return { count: BigInt(count) };
    },

    async appendAudience(req) {
      const cid = id(req.campaignId);
      if (!cid) throw invalid("campaign_id", "required");
      if (req.userIds.length === 0) throw invalid("user_ids", "at least one id");
      if (req.userIds.length > MAX_CHUNK) throw invalid("user_ids", `at most ${MAX_CHUNK} ids per call; upload larger lists in chunks`);
      req.userIds.forEach((u, i) => {
        if (!u || u.length > LIMITS.userId || !USER_ID.test(u)) throw invalid(`user_ids[${i}]`, "must be 1..64 characters of [A-Za-z0-9_.:@-]");
      });
      const r = await appendIds(d.db, cid, [...new Set(req.userIds)], d.maxAudienceIds);
      return { total: r.total, duplicates: r.duplicates + (req.userIds.length - new Set(req.userIds).size) };
    },

    async schedule(req) {
      const c = await requireCampaign(d.db, id(req.campaignId));
      if (c.status !== CampaignState.Draft) throw new ConnectError(`campaign ${c.id} is already scheduled or over`, Code.FailedPrecondition);
      if (c.audience_kind === AudienceKind.Ids && c.audience_ids === 0) {
        throw new ConnectError("user_ids: the id list is empty; upload ids with AppendAudience first", Code.FailedPrecondition);
      }
      // Generator presets pin no version and carry no data: check the template still exists now.
      await d.templates.resolveForSend(c.template_key, c.template_version || undefined, "template");
      const now = new Date();
      let next: Date | null;
      if (c.schedule_kind === ScheduleKind.Now) next = now;
      else if (c.schedule_kind === ScheduleKind.At) next = c.schedule_at;
      else {
        next = nextOccurrence(cronPlan(c, d.allZones), now);
        if (!next) throw invalid("spec.schedule.cron.end_at", "the schedule has no occurrence left");
      }
      const out = await transition(d.db, c.id, [CampaignState.Draft], CampaignState.Scheduled, {
        next_occurrence_at: next,
        planned_through: now,
      });
      tell(c.id);
      return { campaign: toCampaign(out) };
    },

    async pause(req) {
      const out = await transition(d.db, id(req.campaignId), [CampaignState.Scheduled], CampaignState.Paused);
      tell(out.id);
      return { campaign: toCampaign(out) };
    },

    async resume(req) {
      const cid = id(req.campaignId);
      // A recurring campaign looks at its missed occurrences at once (misfire policy decides).
      await d.db.query(
        `UPDATE campaigns SET next_occurrence_at = LEAST(next_occurrence_at, CURRENT_TIMESTAMP(3))
         WHERE id = ? AND status = ? AND schedule_kind = ? AND next_occurrence_at IS NOT NULL`,
        [cid, CampaignState.Paused, ScheduleKind.Cron],
      );
      const out = await transition(d.db, cid, [CampaignState.Paused], CampaignState.Scheduled);
      tell(out.id);
      return { campaign: toCampaign(out) };
    },

    async cancel(req) {
      const cid = id(req.campaignId);
      const out = await transition(
        d.db,
        cid,
        [CampaignState.Draft, CampaignState.Scheduled, CampaignState.Paused],
        CampaignState.Cancelled,
        { next_occurrence_at: null },
      );
      tell(cid);
      const cancelled = await cancelOpenWork(d.db, cid);
      return { campaign: toCampaign(out), cancelledDeliveries: BigInt(cancelled) };
    },

    async setRate(req) {
      const rate = validateRate(req.rate, d.maxRate);
      const cid = id(req.campaignId);
      if (!cid) throw invalid("campaign_id", "required");
      const out = await setRate(d.db, cid, rate);
      tell(cid);
      return { campaign: toCampaign(out) };
    },

    async *watchProgress(req, ctx) {
      const cid = id(req.campaignId);
      if (!cid) throw invalid("campaign_id", "required");
      if (!(await getCampaign(d.db, cid))) throw notFound(cid);
      yield* watchProgress(d.db, cid, id(req.runId), ctx.signal);
    },
  };
}
