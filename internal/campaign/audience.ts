import { create } from "@bufbuild/protobuf";
import { UserFilterSchema, type User, type UserFilter } from "../../gen/cinema/users/v1/user_directory_pb.js";
import type { Db } from "../store/db.js";
import { Code, ConnectError } from "@connectrpc/connect";
import { classifyUsers } from "../reliability/classify.js";
import type { UsersClient } from "../users/client.js";
import { AudienceKind, type SegmentSpec } from "./model.js";

/**
 * Where a fan-out stands in its audience: the phase (a time zone of the run, then the catch-all
 * pass) and the position inside it (the directory's page token, or the last id of an uploaded list).
 * Stored as the run's checkpoint after every page.
 */
export interface Cursor {
  phase: number;
  token: string;
  afterId: string;
  done: boolean;
}

export const START: Cursor = { phase: 0, token: "", afterId: "", done: false };

export interface Page {
  userIds: string[];
  /** The directory's records of those users, in the same order (directory audiences only). */
  users?: User[];
  next: Cursor;
  /** Users in the whole phase, reported on a phase's first page (directory audiences). */
  phaseTotal?: number;
}

export interface AudienceSource {
  audienceKind: number;
  segment: SegmentSpec;
  campaignId: number;
  /** Zones of this run ([] = no zone filter). */
  zones: string[];
  /** After the zones, a pass over users whose zone is none of `allZones`. */
  catchAll: boolean;
  allZones: readonly string[];
  /** The run's local date (YYYY-MM-DD): birthday_today compares against it. */
  localDate: string;
  /** Extra per-user condition of a generator (applied to directory pages). */
  keep?: (u: User) => boolean;
}

export interface AudienceDeps {
  db: Db;
  users: Pick<UsersClient, "directory" | "limiter" | "breaker">;
  pageSize: number;
}

/**
 * ListUsers through the same limiter and circuit breaker as every other call to the user service:
 * while the breaker is open the fan-out backs off instead of adding load.
 */
async function listUsers(d: AudienceDeps, req: Parameters<UsersClient["directory"]["listUsers"]>[0]) {
  const b = d.users.breaker;
  if (b && !b.available) throw new ConnectError("user service unavailable (circuit open)", Code.Unavailable);
  try {
    const res = await d.users.limiter.schedule(() => d.users.directory.listUsers(req));
    b?.success();
    return res;
  } catch (err) {
    if (b && classifyUsers(err).dependencyDown) b.failure(err);
    throw err;
  }
}

export function toUserFilter(s: SegmentSpec, localDate: string, zone?: string): UserFilter {
  return create(UserFilterSchema, {
    favouriteGenre: s.favouriteGenre ?? "",
    locale: s.locale ?? "",
    subscriptionExpiresWithinDays: s.subscriptionExpiresWithinDays ?? 0,
    birthdayMonthDay: s.birthdayToday ? localDate.slice(5) : (s.birthdayMonthDay ?? ""),
    timeZone: zone ?? s.timeZone ?? "",
  });
}

/**
 * Reads an audience one page at a time, so memory stays flat however large it is. Directory
 * audiences page with ListUsers page tokens (through the users client's limiter, like every call to
 * the user service); id lists page the uploaded table by key.
 */
export function createAudienceReader(d: AudienceDeps, src: AudienceSource) {
  const phases: { zone?: string; rest?: boolean }[] =
    src.audienceKind === AudienceKind.Ids
      ? [{}]
      : src.zones.length === 0
        ? [{}]
        : [...src.zones.map((zone) => ({ zone })), ...(src.catchAll ? [{ rest: true }] : [])];
  const listed = new Set(src.allZones);

  async function page(cur: Cursor): Promise<Page> {
    if (cur.done || cur.phase >= phases.length) return { userIds: [], next: { ...cur, done: true } };
    if (src.audienceKind === AudienceKind.Ids) {
      const [rows] = (await d.db.query(
        "SELECT user_id FROM campaign_audience_ids WHERE campaign_id = ? AND user_id > ? ORDER BY user_id LIMIT ?",
        [src.campaignId, cur.afterId, d.pageSize],
      )) as unknown as [{ user_id: string }[]];
      const userIds = rows.map((r) => r.user_id);
      const done = rows.length < d.pageSize;
      return { userIds, next: { ...cur, afterId: userIds.at(-1) ?? cur.afterId, done } };
    }
    const ph = phases[cur.phase];
    const filter = toUserFilter(src.segment, src.localDate, ph.zone);
    const res = await listUsers(d, { pageSize: d.pageSize, pageToken: cur.token, filter });
    let users = res.users;
    if (ph.rest) users = users.filter((u) => !listed.has(u.timeZone));
    if (src.keep) users = users.filter(src.keep);
    const next: Cursor = res.nextPageToken
      ? { ...cur, token: res.nextPageToken }
      : { phase: cur.phase + 1, token: "", afterId: "", done: cur.phase + 1 >= phases.length };
    return { userIds: users.map((u) => u.id), users, next, phaseTotal: cur.token ? undefined : Number(res.totalSize) };
  }

  return { page };
}

/** How many users an audience holds now (the directory's count for a filter; the list size for ids). */
export async function estimateAudience(
  d: AudienceDeps,
  a: { kind: number; segment: SegmentSpec; campaignId?: number; localDate: string },
): Promise<number> {
  if (a.kind === AudienceKind.Ids) {
    const [rows] = (await d.db.query("SELECT COUNT(*) AS n FROM campaign_audience_ids WHERE campaign_id = ?", [
      a.campaignId ?? 0,
    ])) as unknown as [{ n: number }[]];
    return Number(rows[0].n);
  }
  const res = await listUsers(d, { pageSize: 1, filter: toUserFilter(a.segment, a.localDate) });
  return Number(res.totalSize);
}
