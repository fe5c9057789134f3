import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  AudienceSchema,
  CampaignSchema,
  CampaignSpecSchema,
  MisfirePolicy,
  ProgressSchema,
  ScheduleSchema,
  SegmentSchema,
  type Campaign,
  type CampaignStatus,
  type Progress,
  type RunStatus,
} from "../../gen/notify/v1/campaign_service_pb.js";
import { AudienceKind, Misfire, ScheduleKind, type CampaignRow, type RunRow, type SegmentSpec } from "./model.js";

const ts = (d: Date | null | undefined) => (d ? timestampFromDate(d) : undefined);

export function toCampaign(c: CampaignRow): Campaign {
  const seg = JSON.parse(c.segment || "{}") as SegmentSpec;
  const audience =
    c.audience_kind === AudienceKind.All
      ? create(AudienceSchema, { kind: { case: "all", value: true } })
      : c.audience_kind === AudienceKind.Segment
        ? create(AudienceSchema, { kind: { case: "segment", value: create(SegmentSchema, seg) } })
        : create(AudienceSchema, { kind: { case: "userIds", value: true } });
  const schedule =
    c.schedule_kind === ScheduleKind.Now
      ? create(ScheduleSchema, { kind: { case: "now", value: true } })
      : c.schedule_kind === ScheduleKind.At
        ? create(ScheduleSchema, { kind: { case: "at", value: timestampFromDate(c.schedule_at ?? new Date(0)) } })
        : create(ScheduleSchema, {
            kind: {
              case: "cron",
              value: { expression: c.cron, timeZone: c.time_zone, localTime: c.local_time === 1, endAt: ts(c.end_at) },
            },
          });
  return create(CampaignSchema, {
    id: BigInt(c.id),
    spec: create(CampaignSpecSchema, {
      name: c.name,
      template: c.template_key,
      templateVersion: c.template_version,
      audience,
      schedule,
      rate: c.rate,
      channels: c.channels ? c.channels.split(",") : [],
      category: c.category,
      data: JSON.parse(c.data || "{}") as JsonObject,
      locale: c.locale,
      misfirePolicy: c.misfire === Misfire.Skip ? MisfirePolicy.SKIP : MisfirePolicy.FIRE_ONCE,
    }),
    status: c.status as CampaignStatus,
    generator: c.generator,
    audienceIds: c.audience_ids,
    nextOccurrenceAt: ts(c.next_occurrence_at),
    createdBy: c.created_by,
    createdAt: ts(c.created_at),
    updatedAt: ts(c.updated_at),
  });
}

/** Counters of a run from its row and the ledger counts of its notification (status -> count). */
export function toProgress(r: RunRow, counts: Map<number, number>, rate = 0): Progress {
  const n = (s: number) => BigInt(counts.get(s) ?? 0);
  const planned = [...counts.values()].reduce((a, b) => a + b, 0);
  const pending = (counts.get(1) ?? 0) + (counts.get(2) ?? 0);
  const handled = planned - pending;
  const target = Math.max(planned, Number(r.audience_total));
  const eta = rate > 0 && target > handled ? (target - handled) / rate : 0;
  return create(ProgressSchema, {
    runId: BigInt(r.id),
    status: r.status as RunStatus,
    audienceTotal: BigInt(r.audience_total),
    planned: BigInt(planned),
    published: BigInt(r.published),
    sent: n(3) + n(4) + n(5),
    failed: n(6),
    skipped: n(7),
    dead: n(8),
    cancelled: n(9),
    pending: BigInt(pending),
    rate,
    etaSeconds: Math.round(eta * 10) / 10,
    occurrenceAt: ts(r.occurrence_at),
    notificationId: r.notification_id ?? "",
    error: r.error,
  });
}
