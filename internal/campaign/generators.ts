import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { User } from "../../gen/cinema/users/v1/user_directory_pb.js";
import type { Db } from "../store/db.js";
import type { SegmentSpec } from "./model.js";
import { isTimeZone, localDate } from "./schedule.js";

/**
 * The automatic event generator's presets (seeded disabled by migration 031) each name a generator
 * that fills a run's shared data and may narrow its audience.
 */
export interface GeneratorInput {
  db: Db;
  segment: SegmentSpec;
  occurrenceAt: Date;
  /** YYYY-MM-DD of the occurrence in the run's zones. */
  localDate: string;
  /** Zone used for users without a known one. */
  fallbackZone: string;
}

export interface GeneratorOutput {
  /** Merged over the campaign's own data. */
  data?: Record<string, unknown>;
  /** Replaces the campaign's segment for this run. */
  segment?: SegmentSpec;
  /** Per-user condition applied to the directory's pages. */
  keep?: (u: User) => boolean;
  /** Nothing to send this time (recorded as the run's error, run skipped). */
  skip?: string;
}

export type Generator = (i: GeneratorInput) => Promise<GeneratorOutput>;

const DAY = 86_400_000;

function addDays(ymd: string, days: number): string {
  return new Date(Date.parse(`${ymd}T00:00:00Z`) + days * DAY).toISOString().slice(0, 10);
}

export const GENERATORS: Record<string, Generator> = {
  /**
   * "Your subscription expires in N days": each user is reminded once, on the day that is exactly N
   * days before the end date in their own zone. The directory query is one day wider than N so a
   * subscription ending late on day N is not missed; the exact day is checked per user.
   */
  async subscription_expiring(i) {
    const n = i.segment.subscriptionExpiresWithinDays || 3;
    const target = addDays(i.localDate, n);
    return {
      segment: { ...i.segment, subscriptionExpiresWithinDays: n + 1 },
      data: { days_left: n, expires_at: target },
      keep: (u) => {
        if (!u.subscriptionExpiresAt) return false;
        const zone = isTimeZone(u.timeZone) ? u.timeZone : i.fallbackZone;
        return localDate(timestampDate(u.subscriptionExpiresAt), zone) === target;
      },
    };
  },

  /** Weekly digest of the films added in the seven days before the occurrence (digest_items). */
  async new_films_weekly(i) {
    const [rows] = (await i.db.query(
      `SELECT payload FROM digest_items WHERE kind = 'film_added' AND created_at > ? AND created_at <= ?
       ORDER BY created_at DESC, id DESC LIMIT 50`,
      [new Date(i.occurrenceAt.getTime() - 7 * DAY), i.occurrenceAt],
    )) as unknown as [{ payload: string }[]];
    const films = rows
      .map((r) => {
        try {
          return JSON.parse(r.payload) as Record<string, unknown>;
        } catch {
          return undefined;
        }
      })
      .filter((f): f is Record<string, unknown> => !!f && typeof f.title === "string" && typeof f.url === "string");
    if (films.length === 0) return { skip: "no film_added items in the last 7 days" };
    return { data: { films, week_of: i.localDate } };
  },

  /** Birthday greeting: the segment's birthday_today already selects today's birthdays per zone. */
  async birthday() {
    return {};
  },
};
