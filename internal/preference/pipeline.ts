import type { Decorator, FailureListener } from "../delivery/worker.js";
import type { Logger } from "../log/logger.js";
import { maskAddress } from "../log/logger.js";
import { addressDecisionKey, decisionKey, type Decision, type PlanPolicy } from "../planner/policy.js";
import type { Db } from "../store/db.js";
import { loadDefaults, loadPrefs } from "./store.js";
import { decide, LOCKED_CATEGORY, MARKETING, type Defaults, type UserPrefs } from "./rules.js";
import { createBatcher, createKeyedBatcher } from "../store/batcher.js";
import { addSuppression, createSuppressionLookup, isHardBounce, suppressedAmong } from "./suppression.js";
import { issueTokens, type TokenScope } from "./tokens.js";

/** Suppression is about mail addresses; other channels have their own ways to refuse. */
const EMAIL = "email";
const SUPPRESSED: Decision = { kind: "skip", reason: "suppressed" };

/** Platform defaults change rarely and are read for every notification planned. */
export function createDefaultsCache(db: Db, ttlMs = 5000) {
  let cached: { v: Defaults; until: number } | undefined;
  return async (): Promise<Defaults> => {
    if (cached && cached.until > Date.now()) return cached.v;
    const v = await loadDefaults(db);
    cached = { v, until: Date.now() + ttlMs };
    return v;
  };
}

/**
 * The planner's view of preferences and suppressions: for users, what their switches, global
 * opt-out and quiet hours say; for bare addresses, whether the address is suppressed.
 */
export function createPreferencePolicy(d: { db: Db; defaults: () => Promise<Defaults>; now?: () => Date }): PlanPolicy {
  const now = d.now ?? (() => new Date());
  // Instant notifications name a recipient or two each; many planned at once share one query. A
  // campaign's big lists go straight to one chunked query of their own.
  const SMALL = 50;
  const suppressedOne = createSuppressionLookup(d.db);
  const prefsOne = createKeyedBatcher<string, UserPrefs>((ids) => loadPrefs(d.db, ids));
  const suppressed = async (addresses: string[], category: string): Promise<string[]> => {
    if (addresses.length > SMALL) return [...(await suppressedAmong(d.db, addresses, category))];
    const flags = await Promise.all(addresses.map((address) => suppressedOne({ address, category })));
    return addresses.filter((_, i) => flags[i]).map((a) => a.trim().toLowerCase());
  };
  const prefsOf = async (userIds: string[]): Promise<Map<string, UserPrefs>> => {
    if (userIds.length > SMALL) return loadPrefs(d.db, userIds);
    const found = await Promise.all(userIds.map((u) => prefsOne(u)));
    return new Map(userIds.flatMap((u, i) => (found[i] ? [[u, found[i]] as const] : [])));
  };
  return {
    async decide(input) {
      const out = new Map<string, Decision>();
      const addresses = input.addresses ?? [];
      if (addresses.length > 0 && input.channels.includes(EMAIL)) {
        for (const a of await suppressed(addresses, input.category)) out.set(addressDecisionKey(a, EMAIL), SUPPRESSED);
      }
      if (input.category === LOCKED_CATEGORY || input.userIds.length === 0) return out;
      const [prefs, defaults] = await Promise.all([prefsOf(input.userIds), d.defaults()]);
      const at = now();
      for (const userId of input.userIds) {
        const p = prefs.get(userId);
        for (const ch of input.channels) {
          const decision = decide(p, defaults, input.category, ch, at);
          if (decision.kind !== "deliver") out.set(decisionKey(userId, ch), decision);
        }
      }
      return out;
    },
  };
}

/** A user's preferred locale, cached for a few seconds (workers ask once per delivery, many at a time). */
export function createLocaleLookup(db: Db, ttlMs = 5000) {
  const cache = new Map<string, { v: string; until: number }>();
  const read = createBatcher<string, string>({
    maxItems: 500,
    maxConcurrent: 2,
    run: async (userIds) => {
      const [rows] = (await db.query("SELECT user_id, locale FROM user_preferences WHERE user_id IN (?)", [
        [...new Set(userIds)],
      ])) as unknown as [{ user_id: string; locale: string }[]];
      const found = new Map(rows.map((r) => [r.user_id, r.locale]));
      return userIds.map((u) => found.get(u) ?? "");
    },
  });
  return async (userId: string): Promise<string> => {
    const hit = cache.get(userId);
    if (hit && hit.until > Date.now()) return hit.v;
    const v = await read(userId);
    if (cache.size > 10_000) cache.clear();
    cache.set(userId, { v, until: Date.now() + ttlMs });
    return v;
  };
}

/**
 * Runs in the workers just before rendering. It passes on the user's preferred locale. On email,
 * where the address is known at last, a suppressed address is skipped (a user's address is only
 * known here, and a bare address may have bounced since it was planned), and marketing mail gets a
 * one-click unsubscribe link in the footer and the List-Unsubscribe headers (RFC 2369, RFC 8058).
 * The lookups and token inserts of concurrent deliveries share one statement each.
 */
export function createPreferenceDecorator(d: { db: Db; publicUrl: string; localeOf: (userId: string) => Promise<string> }): Decorator {
  const suppressed = createSuppressionLookup(d.db);
  const issue = createBatcher<TokenScope, string>({ maxItems: 500, maxConcurrent: 2, run: (scopes) => issueTokens(d.db, scopes) });
  return async ({ msg, user }) => {
    const address = msg.ch === EMAIL ? (msg.a ?? user?.email ?? "").toLowerCase() : "";
    const [locale, isSuppressed] = await Promise.all([
      msg.u && !msg.l ? d.localeOf(msg.u) : "",
      address ? suppressed({ address, category: msg.c }) : false,
    ]);
    if (isSuppressed) return { skip: "suppressed" };
    const base = locale ? { locale } : {};
    if (msg.ch !== EMAIL) return base;
    if (msg.c !== MARKETING) return base;
    const token = await issue({
      userId: msg.u ?? "",
      address: msg.u ? "" : address,
      category: msg.c,
      locale: msg.l || locale || user?.locale || "",
      deliveryId: msg.d,
    });
    const url = `${d.publicUrl}/u/${token}`;
    return {
      ...base,
      data: { unsubscribe_url: url },
      headers: { "List-Unsubscribe": `<${url}>`, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click" },
    };
  };
}

/** Puts an address on the suppression list when a relay says the mailbox does not exist. */
export function createBounceListener(d: { db: Db }): FailureListener {
  return async (msg, err, address, log) => {
    if (msg.ch !== EMAIL || !address || !isHardBounce(err)) return;
    await addSuppression(d.db, { address, reason: "hard_bounce", detail: err.message });
    log.info({ to: maskAddress(address) }, "address suppressed after a hard bounce");
  };
}
