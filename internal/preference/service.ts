import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  CategoryInfoSchema,
  ChannelInfoSchema,
  ChannelPreferenceSchema,
  CategoryPreferenceSchema,
  PreferenceService,
  PreferencesSchema,
  QuietHoursSchema,
  SuppressionSchema,
  type PreferenceServiceUpdateRequest,
  type Preferences,
} from "../../gen/notify/v1/preference_service_pb.js";
import type { Logger } from "../log/logger.js";
import { invalid, validateEmail } from "../notification/validate.js";
import type { Db } from "../store/db.js";
import { CATEGORIES } from "../template/index.js";
import type { UsersClient } from "../users/client.js";
import {
  ANY,
  categoryEnabled,
  defaultEnabled,
  emptyPrefs,
  formatClock,
  isValidTimeZone,
  LOCKED_CATEGORY,
  parseClock,
  switchKey,
  type Defaults,
  type UserPrefs,
} from "./rules.js";
import { etagOf, loadPrefs, StaleEtagError, updatePrefs, type PrefChange } from "./store.js";
import { addSuppression, liftSuppression, listSuppressions, SUPPRESSION_REASONS, type Suppression, type SuppressionReason } from "./suppression.js";

export interface PreferenceServiceDeps {
  db: Db;
  log: Logger;
  defaults: () => Promise<Defaults>;
  /** Channels users choose among (every channel the platform knows). */
  channels: () => readonly string[];
  /** Channels this deployment delivers on. */
  available: (channel: string) => boolean;
  /** Fills in the time zone from the user directory when quiet hours are set without one. */
  users?: Pick<UsersClient, "getUser">;
}

const USER_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const LOCALE = /^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$/;

function requireUser(userId: string): void {
  if (!USER_ID.test(userId)) throw invalid("user_id", "must be 1..64 characters of [A-Za-z0-9_.:@-]");
}

export function prefsToPb(p: UserPrefs, defaults: Defaults, channels: readonly string[]): Preferences {
  return create(PreferencesSchema, {
    userId: p.userId,
    allOff: p.allOff,
    timeZone: p.timeZone,
    locale: p.locale,
    quietHours: p.quiet ? create(QuietHoursSchema, { start: formatClock(p.quiet.start), end: formatClock(p.quiet.end) }) : undefined,
    channels: channels.map((channel) =>
      create(ChannelPreferenceSchema, { channel, enabled: p.switches.get(switchKey(ANY, channel)) ?? true }),
    ),
    categories: CATEGORIES.flatMap((category) =>
      channels.map((channel) =>
        create(CategoryPreferenceSchema, {
          category,
          channel,
          enabled: categoryEnabled(p, defaults, category, channel),
          isDefault: category === LOCKED_CATEGORY || !p.switches.has(switchKey(category, channel)),
          locked: category === LOCKED_CATEGORY,
        }),
      ),
    ),
    etag: etagOf(p.version),
    updateTime: p.updatedAt ? timestampFromDate(p.updatedAt) : undefined,
  });
}

/** Checks an Update and turns it into a PrefChange; every problem names its field. */
export function changeFromPb(req: PreferenceServiceUpdateRequest, channels: readonly string[]): PrefChange {
  const known = new Set(channels);
  const change: PrefChange = {};
  if (req.allOff !== undefined) change.allOff = req.allOff;
  if (req.timeZone !== undefined) {
    if (req.timeZone && !isValidTimeZone(req.timeZone)) throw invalid("time_zone", `"${req.timeZone}" is not an IANA time zone`);
    change.timeZone = req.timeZone;
  }
  if (req.locale !== undefined) {
    const l = req.locale.replace("_", "-");
    if (l && !LOCALE.test(l)) throw invalid("locale", "must look like en, ru or pt-BR");
    change.locale = l;
  }
  if (req.quietHours) {
    const { start, end } = req.quietHours;
    if (!start && !end) change.quiet = null;
    else {
      const s = parseClock(start);
      const e = parseClock(end);
      if (s === undefined) throw invalid("quiet_hours.start", 'expected "HH:MM" or "HH:MM:SS"');
      if (e === undefined) throw invalid("quiet_hours.end", 'expected "HH:MM" or "HH:MM:SS"');
      if (s === e) throw invalid("quiet_hours", "start and end are equal");
      change.quiet = { start: s, end: e };
    }
  }
  const switches: NonNullable<PrefChange["switches"]> = [];
  req.channels.forEach((c, i) => {
    if (!known.has(c.channel)) throw invalid(`channels[${i}].channel`, `unknown channel "${c.channel}"`);
    switches.push({ category: ANY, channel: c.channel, enabled: c.enabled });
  });
  req.categories.forEach((c, i) => {
    if (!(CATEGORIES as readonly string[]).includes(c.category)) {
      throw invalid(`categories[${i}].category`, `must be one of ${CATEGORIES.join(", ")}`);
    }
    if (!known.has(c.channel)) throw invalid(`categories[${i}].channel`, `unknown channel "${c.channel}"`);
    if (c.category === LOCKED_CATEGORY) {
      if (!c.enabled) throw invalid(`categories[${i}]`, "transactional notifications cannot be turned off");
      return;
    }
    switches.push({ category: c.category, channel: c.channel, enabled: c.enabled });
  });
  if (switches.length > 0) change.switches = switches;
  return change;
}

function suppressionToPb(s: Suppression) {
  return create(SuppressionSchema, {
    address: s.address,
    scope: s.scope,
    reason: s.reason,
    detail: s.detail,
    createTime: timestampFromDate(s.createdAt),
  });
}

function scopeOf(scope: string, field: string): string {
  if (!scope || scope === ANY) return ANY;
  if (!(CATEGORIES as readonly string[]).includes(scope)) throw invalid(field, `must be "*" or one of ${CATEGORIES.join(", ")}`);
  return scope;
}

/** Connect handlers for PreferenceService: request <-> domain, nothing more. */
export function createPreferenceService(d: PreferenceServiceDeps): ServiceImpl<typeof PreferenceService> {
  const current = async (userId: string) => (await loadPrefs(d.db, [userId])).get(userId) ?? emptyPrefs(userId);
  const respond = async (userId: string) => prefsToPb(await current(userId), await d.defaults(), d.channels());

  return {
    async get(req) {
      requireUser(req.userId);
      return { preferences: await respond(req.userId) };
    },

    async update(req) {
      requireUser(req.userId);
      const change = changeFromPb(req, d.channels());
      if (change.quiet && change.timeZone === undefined && !(await current(req.userId)).timeZone) {
        // Quiet hours mean nothing without a zone; the directory knows where the user lives.
        const user = await d.users?.getUser(req.userId).catch(() => undefined);
        if (user?.timeZone && isValidTimeZone(user.timeZone)) change.timeZone = user.timeZone;
      }
      try {
        await updatePrefs(d.db, req.userId, change, req.etag || undefined);
      } catch (err) {
        if (err instanceof StaleEtagError) throw new ConnectError(`etag: ${err.message}`, Code.Aborted);
        throw err;
      }
      return { preferences: await respond(req.userId) };
    },

    async listChannels() {
      const defaults = await d.defaults();
      const channels = d.channels();
      return {
        channels: channels.map((name) => create(ChannelInfoSchema, { name, available: d.available(name) })),
        categories: CATEGORIES.map((name) =>
          create(CategoryInfoSchema, {
            name,
            locked: name === LOCKED_CATEGORY,
            defaults: channels.map((channel) =>
              create(ChannelPreferenceSchema, { channel, enabled: name === LOCKED_CATEGORY || defaultEnabled(defaults, name, channel) }),
            ),
          }),
        ),
      };
    },

    async listSuppressions(req) {
      if (req.pageSize > 500) throw invalid("page_size", "at most 500");
      let beforeId: number | undefined;
      if (req.pageToken) {
        beforeId = Number(Buffer.from(req.pageToken, "base64url").toString("utf8"));
        if (!Number.isSafeInteger(beforeId) || beforeId <= 0) throw invalid("page_token", "not a token from a previous page");
      }
      const page = await listSuppressions(d.db, { query: req.query, limit: req.pageSize || 50, beforeId });
      const last = page.items.at(-1);
      return {
        suppressions: page.items.map(suppressionToPb),
        nextPageToken: page.more && last ? Buffer.from(String(last.id)).toString("base64url") : "",
      };
    },

    async addSuppression(req) {
      const address = validateEmail("address", req.address);
      const reason = (req.reason || "manual") as SuppressionReason;
      if (!SUPPRESSION_REASONS.includes(reason)) throw invalid("reason", `must be one of ${SUPPRESSION_REASONS.join(", ")}`);
      const s = await addSuppression(d.db, { address, scope: scopeOf(req.scope, "scope"), reason, detail: req.detail });
      d.log.info({ scope: s.scope, reason: s.reason }, "address suppressed by an operator");
      return { suppression: suppressionToPb(s) };
    },

    async liftSuppression(req) {
      const address = validateEmail("address", req.address);
      const lifted = await liftSuppression(d.db, address, req.scope ? scopeOf(req.scope, "scope") : undefined);
      d.log.info({ lifted }, "suppression lifted by an operator");
      return { lifted };
    },
  };
}
