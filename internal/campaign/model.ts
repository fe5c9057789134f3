/** Stored campaign states; the numbers equal notify.v1.CampaignStatus. */
export const CampaignState = { Draft: 1, Scheduled: 2, Paused: 3, Completed: 4, Cancelled: 5 } as const;

/** Stored run states; the numbers equal notify.v1.RunStatus. */
export const RunState = { Pending: 1, Running: 2, Completed: 3, Cancelled: 4, Skipped: 5, Failed: 6 } as const;
export const FINAL_RUN_STATES: readonly number[] = [RunState.Completed, RunState.Cancelled, RunState.Skipped, RunState.Failed];

export const AudienceKind = { All: 1, Segment: 2, Ids: 3 } as const;
export const ScheduleKind = { Now: 1, At: 2, Cron: 3 } as const;
export const Misfire = { FireOnce: 1, Skip: 2 } as const;

/** A segment as stored (JSON in campaigns.segment); mirrors notify.v1.Segment. */
export interface SegmentSpec {
  favouriteGenre?: string;
  locale?: string;
  subscriptionExpiresWithinDays?: number;
  birthdayMonthDay?: string;
  /** The run's local date decides the birthday (recurring greetings). */
  birthdayToday?: boolean;
  timeZone?: string;
}

/** A validated campaign, ready to store. */
export interface CampaignSpecNormal {
  name: string;
  templateKey: string;
  templateVersion: number;
  channels: string[];
  category: string;
  locale: string;
  data: Record<string, unknown>;
  audienceKind: number;
  segment: SegmentSpec;
  scheduleKind: number;
  scheduleAt: Date | null;
  cron: string;
  timeZone: string;
  localTime: boolean;
  endAt: Date | null;
  misfire: number;
  rate: number;
}

export interface CampaignRow {
  id: number;
  name: string;
  status: number;
  generator: string;
  template_key: string;
  template_version: number;
  channels: string;
  category: string;
  locale: string;
  data: string;
  audience_kind: number;
  segment: string;
  audience_ids: number;
  schedule_kind: number;
  schedule_at: Date | null;
  cron: string;
  time_zone: string;
  local_time: number;
  end_at: Date | null;
  misfire: number;
  rate: number;
  next_occurrence_at: Date | null;
  planned_through: Date | null;
  created_by: string;
  created_at: Date;
  updated_at: Date;
}

export interface RunRow {
  id: number;
  campaign_id: number;
  occurrence_at: Date;
  /** JSON list of IANA zones this run covers; [] means no zone filter. */
  time_zones: string;
  /** Also covers users whose zone is in none of the configured zones (the campaign's own zone group). */
  catch_all: number;
  /** YYYY-MM-DD of the occurrence in the run's zones (birthday filter, digest date). */
  local_date: string;
  status: number;
  notification_id: string | null;
  cursor_state: string;
  audience_total: number;
  planned: number;
  published: number;
  owner: string;
  lease_until: Date | null;
  error: string;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/** Message on the campaign control subject: "re-read campaign N now". */
export interface ControlMessage {
  campaignId: number;
}
