import { Cron } from "croner";
import { Misfire } from "./model.js";

/** True when Intl knows the zone (the same check croner's conversions depend on). */
export function isTimeZone(tz: string): boolean {
  if (!tz) return false;
  try {
    new Intl.DateTimeFormat("en", { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** Returns an error message for a bad expression, or undefined when croner accepts it. */
export function cronError(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6) return "expected 5 fields (minute hour day month weekday) or 6 (seconds first)";
  try {
    new Cron(expression, { paused: true, timezone: "UTC" });
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^CronPattern: /, "");
  }
}

function cron(expression: string, tz: string): Cron {
  // legacyMode (croner's default) ORs day-of-month and weekday like Vixie cron does.
  return new Cron(expression, { paused: true, timezone: tz || "UTC" });
}

/** YYYY-MM-DD of an instant in a zone. */
export function localDate(at: Date, tz: string): string {
  const p = new Intl.DateTimeFormat("en-CA", { timeZone: tz || "UTC", year: "numeric", month: "2-digit", day: "2-digit" }).format(at);
  return p;
}

/** One instant at which a campaign fires, with the zones whose local schedule falls on it. */
export interface Occurrence {
  at: Date;
  zones: string[];
  /** The campaign's own zone is in this group: it also serves users whose zone is unknown or unlisted. */
  catchAll: boolean;
  localDate: string;
}

export interface CronPlan {
  expression: string;
  /** The zone the expression is read in (and, in local-time mode, the catch-all zone). */
  timeZone: string;
  /** Local-time mode: evaluate the expression in each of these zones. */
  localZones?: string[];
  endAt?: Date | null;
}

const MAX_PER_ZONE = 10_000;

/**
 * Occurrences in (after, until], grouped by instant. In local-time mode each zone gets its own
 * occurrences and zones that share an instant share a run.
 */
export function occurrencesBetween(plan: CronPlan, after: Date, until: Date): Occurrence[] {
  const zones = plan.localZones?.length ? plan.localZones : [plan.timeZone || "UTC"];
  const own = plan.timeZone || "UTC";
  const byInstant = new Map<number, Occurrence>();
  const end = plan.endAt && plan.endAt < until ? plan.endAt : until;
  for (const z of zones) {
    const c = cron(plan.expression, z);
    let prev: Date = after;
    for (let i = 0; i < MAX_PER_ZONE; i++) {
      const next = c.nextRun(prev);
      if (!next || next > end) break;
      add(byInstant, next, z, z === own);
      prev = next;
    }
  }
  if (plan.localZones?.length && !zones.includes(own)) {
    // The catch-all group follows the campaign's own zone even when that zone is not in the list.
    const c = cron(plan.expression, own);
    let prev: Date = after;
    for (let i = 0; i < MAX_PER_ZONE; i++) {
      const next = c.nextRun(prev);
      if (!next || next > end) break;
      add(byInstant, next, undefined, true, own);
      prev = next;
    }
  }
  return [...byInstant.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
}

function add(m: Map<number, Occurrence>, at: Date, zone: string | undefined, catchAll: boolean, dateZone?: string) {
  const k = at.getTime();
  let o = m.get(k);
  if (!o) {
    o = { at, zones: [], catchAll: false, localDate: localDate(at, zone ?? dateZone ?? "UTC") };
    m.set(k, o);
  }
  if (zone) o.zones.push(zone);
  if (catchAll) o.catchAll = true;
}

/** The first occurrence after `after` (any zone), or null when the schedule has ended. */
export function nextOccurrence(plan: CronPlan, after: Date): Date | null {
  const zones = new Set([...(plan.localZones?.length ? plan.localZones : []), plan.timeZone || "UTC"]);
  let best: Date | null = null;
  for (const z of zones) {
    const n = cron(plan.expression, z).nextRun(after);
    if (n && (!best || n < best)) best = n;
  }
  if (best && plan.endAt && best > plan.endAt) return null;
  return best;
}

export interface MisfireDecision {
  /** Occurrences to run. */
  fire: Occurrence[];
  /** Occurrences recorded as skipped. */
  skip: Occurrence[];
}

/**
 * Splits due occurrences into on-time ones (fire) and missed ones (older than the grace period).
 * fire_once keeps, per zone, only the latest missed occurrence; skip records them all as skipped.
 */
export function applyMisfire(due: Occurrence[], now: Date, graceMs: number, policy: number): MisfireDecision {
  const cutoff = now.getTime() - graceMs;
  const onTime = due.filter((o) => o.at.getTime() >= cutoff);
  const missed = due.filter((o) => o.at.getTime() < cutoff);
  if (missed.length === 0) return { fire: onTime, skip: [] };
  if (policy === Misfire.Skip) return { fire: onTime, skip: missed };
  // Per zone only its latest missed occurrence fires, and not at all when an on-time run covers the
  // zone. Groups are rebuilt, so a zone never rides along in two catch-up runs.
  const CATCH_ALL = "\u0000catch-all";
  const keys = (o: Occurrence) => o.zones.concat(o.catchAll ? [CATCH_ALL] : []);
  const covered = new Set(onTime.flatMap(keys));
  const latest = new Map<string, Occurrence>();
  for (const o of missed) {
    for (const z of keys(o)) {
      if (covered.has(z)) continue;
      const cur = latest.get(z);
      if (!cur || cur.at < o.at) latest.set(z, o);
    }
  }
  const regrouped = new Map<number, Occurrence>();
  for (const [z, o] of latest) {
    let g = regrouped.get(o.at.getTime());
    if (!g) regrouped.set(o.at.getTime(), (g = { at: o.at, zones: [], catchAll: false, localDate: o.localDate }));
    if (z === CATCH_ALL) g.catchAll = true;
    else g.zones.push(z);
  }
  const skip = missed.filter((o) => !regrouped.has(o.at.getTime()));
  const fire = [...regrouped.values(), ...onTime].sort((a, b) => a.at.getTime() - b.at.getTime());
  return { fire, skip };
}
