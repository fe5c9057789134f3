import type { Decision } from "../planner/policy.js";

/** Transactional notifications (confirmation links, security notices) ignore every preference. */
export const LOCKED_CATEGORY = "transactional";
export const MARKETING = "marketing";
/** The switch of a whole channel is stored as category "*"; so is a default for every channel. */
export const ANY = "*";

export const switchKey = (category: string, channel: string) => `${category}\u0000${channel}`;

/** A daily window in seconds after local midnight; start > end crosses midnight. */
export interface QuietWindow {
  start: number;
  end: number;
}

export interface UserPrefs {
  userId: string;
  allOff: boolean;
  timeZone: string;
  locale: string;
  quiet?: QuietWindow;
  /** switchKey(category | "*", channel) -> enabled, only what the user chose. */
  switches: Map<string, boolean>;
  version: number;
  updatedAt?: Date;
}

/** switchKey(category, channel | "*") -> enabled. */
export type Defaults = Map<string, boolean>;

export function emptyPrefs(userId: string): UserPrefs {
  return { userId, allOff: false, timeZone: "", locale: "", switches: new Map(), version: 0 };
}

export function defaultEnabled(defaults: Defaults, category: string, channel: string): boolean {
  return defaults.get(switchKey(category, channel)) ?? defaults.get(switchKey(category, ANY)) ?? true;
}

/** Whether the category is on for the channel, before quiet hours (locked categories always are). */
export function categoryEnabled(p: UserPrefs | undefined, defaults: Defaults, category: string, channel: string): boolean {
  if (category === LOCKED_CATEGORY) return true;
  return p?.switches.get(switchKey(category, channel)) ?? defaultEnabled(defaults, category, channel);
}

const DELIVER: Decision = { kind: "deliver" };
const SKIP: Decision = { kind: "skip", reason: "preference" };

/**
 * What a user's preferences say about one notification on one channel: everything off, the channel
 * off, or the category off on it skip (reason "preference"); marketing inside quiet hours waits for
 * the end of the window. Transactional notifications always go.
 */
export function decide(p: UserPrefs | undefined, defaults: Defaults, category: string, channel: string, now: Date): Decision {
  if (category === LOCKED_CATEGORY) return DELIVER;
  if (p?.allOff) return SKIP;
  if (p?.switches.get(switchKey(ANY, channel)) === false) return SKIP;
  if (!categoryEnabled(p, defaults, category, channel)) return SKIP;
  if (category === MARKETING && p?.quiet) {
    const until = quietUntil(now, p.timeZone || "UTC", p.quiet);
    if (until) return { kind: "hold", until };
  }
  return DELIVER;
}

const CLOCK = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$/;

/** "22:00" or "07:30:15" -> seconds after midnight; undefined when malformed. */
export function parseClock(s: string): number | undefined {
  const m = CLOCK.exec(s);
  if (!m) return undefined;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
}

export function formatClock(sec: number): string {
  const two = (n: number) => String(n).padStart(2, "0");
  const hm = `${two(Math.floor(sec / 3600))}:${two(Math.floor(sec / 60) % 60)}`;
  return sec % 60 === 0 ? hm : `${hm}:${two(sec % 60)}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat("en-GB", { timeZone: tz, hourCycle: "h23", hour: "2-digit", minute: "2-digit", second: "2-digit" });
    if (formatters.size > 1000) formatters.clear();
    formatters.set(tz, f);
  }
  return f;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    formatter(tz);
    return true;
  } catch {
    return false;
  }
}

/** Seconds after local midnight at `at` in the time zone. */
export function localSeconds(at: Date, tz: string): number {
  let h = 0;
  let m = 0;
  let s = 0;
  for (const part of formatter(tz).formatToParts(at)) {
    if (part.type === "hour") h = Number(part.value);
    else if (part.type === "minute") m = Number(part.value);
    else if (part.type === "second") s = Number(part.value);
  }
  return h * 3600 + m * 60 + s;
}

const DAY = 86_400;

/** When the quiet window that contains `now` ends, or undefined when `now` is outside it. */
export function quietUntil(now: Date, tz: string, q: QuietWindow): Date | undefined {
  if (q.start === q.end) return undefined;
  const t = localSeconds(now, tz);
  const inside = q.start < q.end ? t >= q.start && t < q.end : t >= q.start || t < q.end;
  if (!inside) return undefined;
  const base = Math.floor(now.getTime() / 1000) * 1000;
  let until = base + ((q.end - t + DAY) % DAY) * 1000;
  // A DST change inside the window moves the wall clock; correct by what the clock reads then.
  let drift = q.end - localSeconds(new Date(until), tz);
  if (drift > DAY / 2) drift -= DAY;
  if (drift < -DAY / 2) drift += DAY;
  if (drift !== 0 && Math.abs(drift) <= 7200) until += drift * 1000;
  return new Date(until);
}
