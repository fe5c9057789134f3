import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { Audience, CampaignSpec, Segment } from "../../gen/notify/v1/campaign_service_pb.js";
import { MisfirePolicy } from "../../gen/notify/v1/campaign_service_pb.js";
import { CATEGORIES, LIMITS, invalid } from "../notification/validate.js";
import type { PinnedTemplate, TemplateCatalog } from "../template/index.js";
import { AudienceKind, Misfire, ScheduleKind, type CampaignSpecNormal, type SegmentSpec } from "./model.js";
import { cronError, isTimeZone } from "./schedule.js";

export interface SpecLimits {
  maxRate: number;
}

const LOCALE = /^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$/;
const MONTH_DAY = /^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/;

export function validateRate(rate: number, max: number, field = "rate"): number {
  if (!Number.isInteger(rate) || rate <= 0) throw invalid(field, `must be a whole number of messages per second above 0, got ${rate}`);
  if (rate > max) throw invalid(field, `at most ${max} messages per second (NOTIFY_CAMPAIGN_MAX_RATE)`);
  return rate;
}

export function normalizeSegment(s: Segment | undefined, field: string): SegmentSpec {
  const out: SegmentSpec = {};
  if (!s) return out;
  if (s.favouriteGenre) out.favouriteGenre = s.favouriteGenre;
  if (s.locale) {
    if (!LOCALE.test(s.locale)) throw invalid(`${field}.locale`, "must look like en, ru or pt-BR");
    out.locale = s.locale;
  }
  if (s.subscriptionExpiresWithinDays) {
    if (s.subscriptionExpiresWithinDays > 366) throw invalid(`${field}.subscription_expires_within_days`, "at most 366");
    out.subscriptionExpiresWithinDays = s.subscriptionExpiresWithinDays;
  }
  if (s.birthdayMonthDay) {
    if (!MONTH_DAY.test(s.birthdayMonthDay)) throw invalid(`${field}.birthday_month_day`, 'must be "MM-DD"');
    out.birthdayMonthDay = s.birthdayMonthDay;
  }
  if (s.birthdayToday) {
    if (s.birthdayMonthDay) throw invalid(`${field}.birthday_today`, "set either birthday_today or birthday_month_day");
    out.birthdayToday = true;
  }
  if (s.timeZone) {
    if (!isTimeZone(s.timeZone)) throw invalid(`${field}.time_zone`, `unknown time zone "${s.timeZone}"`);
    out.timeZone = s.timeZone;
  }
  return out;
}

export function normalizeAudience(a: Audience | undefined, field = "audience"): { kind: number; segment: SegmentSpec } {
  switch (a?.kind.case) {
    case "all":
      return { kind: AudienceKind.All, segment: {} };
    case "segment":
      return { kind: AudienceKind.Segment, segment: normalizeSegment(a.kind.value, `${field}.segment`) };
    case "userIds":
      return { kind: AudienceKind.Ids, segment: {} };
    default:
      throw invalid(field, "set all, segment or user_ids");
  }
}

/**
 * Checks a CampaignSpec the way Send checks a request: every problem names its field. Returns the
 * normal form and the pinned template (for its channels and variables).
 */
export async function normalizeSpec(
  spec: CampaignSpec | undefined,
  deps: { templates: TemplateCatalog; channels: string[]; limits: SpecLimits },
): Promise<{ spec: CampaignSpecNormal; pinned: PinnedTemplate }> {
  if (!spec) throw invalid("spec", "required");
  const name = spec.name.trim();
  if (!name || name.length > 200) throw invalid("spec.name", "1..200 characters");
  if (!spec.template) throw invalid("spec.template", "required");
  const pinned = await deps.templates.resolveForSend(spec.template, spec.templateVersion || undefined, "spec.template");
  const rate = validateRate(spec.rate, deps.limits.maxRate, "spec.rate");

  const known = new Set(deps.channels);
  const channels = [...new Set(spec.channels)];
  channels.forEach((c, i) => {
    if (!known.has(c)) throw invalid(`spec.channels[${i}]`, `unknown channel "${c}"; known: ${[...known].join(", ")}`);
    if (!pinned.channels.includes(c)) throw invalid(`spec.channels[${i}]`, `template "${pinned.key}" has no content for channel "${c}"`);
  });
  const finalChannels = channels.length ? channels : pinned.channels.filter((c) => known.has(c));
  if (finalChannels.length === 0) throw invalid("spec.channels", `template "${pinned.key}" has no channel this server delivers on`);
  if (spec.category && !(CATEGORIES as readonly string[]).includes(spec.category)) {
    throw invalid("spec.category", `must be one of ${CATEGORIES.join(", ")}`);
  }
  if (spec.locale && !LOCALE.test(spec.locale)) throw invalid("spec.locale", "must look like en, ru or pt-BR");

  const data = (spec.data ?? {}) as Record<string, unknown>;
  if (Buffer.byteLength(JSON.stringify(data)) > LIMITS.dataBytes) throw invalid("spec.data", `larger than ${LIMITS.dataBytes} bytes as JSON`);
  deps.templates.validateData(pinned, data, "spec.data");

  const audience = normalizeAudience(spec.audience, "spec.audience");

  let scheduleKind: number;
  let scheduleAt: Date | null = null;
  let cron = "";
  let timeZone = "UTC";
  let localTime = false;
  let endAt: Date | null = null;
  const s = spec.schedule?.kind;
  switch (s?.case) {
    case "now":
      scheduleKind = ScheduleKind.Now;
      break;
    case "at":
      scheduleKind = ScheduleKind.At;
      scheduleAt = timestampDate(s.value);
      if (Number.isNaN(scheduleAt.getTime())) throw invalid("spec.schedule.at", "not a valid time");
      if (scheduleAt.getTime() > Date.now() + 366 * 86_400_000) throw invalid("spec.schedule.at", "more than a year ahead");
      break;
    case "cron": {
      scheduleKind = ScheduleKind.Cron;
      cron = s.value.expression.trim();
      if (!cron) throw invalid("spec.schedule.cron.expression", "required");
      const err = cronError(cron);
      if (err) throw invalid("spec.schedule.cron.expression", `invalid cron expression "${cron}": ${err}`);
      timeZone = s.value.timeZone || "UTC";
      if (!isTimeZone(timeZone)) throw invalid("spec.schedule.cron.time_zone", `unknown time zone "${timeZone}"`);
      localTime = s.value.localTime;
      if (localTime && audience.kind === AudienceKind.Ids) {
        throw invalid("spec.schedule.cron.local_time", "local-time delivery needs an all or segment audience (the directory filters by zone)");
      }
      if (localTime && audience.segment.timeZone) {
        throw invalid("spec.schedule.cron.local_time", "cannot be combined with audience.segment.time_zone");
      }
      if (s.value.endAt) endAt = timestampDate(s.value.endAt);
      break;
    }
    default:
      throw invalid("spec.schedule", "set now, at or cron");
  }
  const misfire = spec.misfirePolicy === MisfirePolicy.SKIP ? Misfire.Skip : Misfire.FireOnce;

  return {
    pinned,
    spec: {
      name,
      templateKey: pinned.key,
      templateVersion: spec.templateVersion ? pinned.version : 0,
      channels: finalChannels,
      category: spec.category || pinned.category,
      locale: spec.locale.replace("_", "-"),
      data,
      audienceKind: audience.kind,
      segment: audience.segment,
      scheduleKind,
      scheduleAt,
      cron,
      timeZone,
      localTime,
      endAt,
      misfire,
      rate,
    },
  };
}
