import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Db } from "../store/db.js";
import type { TemplateCatalog } from "../template/index.js";
import { CATEGORIES, invalid } from "../notification/validate.js";
import { checkCondition, type Condition } from "./condition.js";
import { EVENT_TYPE } from "./decode.js";

export const Action = { Send: 1, Digest: 2 } as const;
export type ActionValue = (typeof Action)[keyof typeof Action];

export interface Rule {
  id: number;
  eventType: string;
  name: string;
  action: ActionValue;
  template: string;
  channels: string[];
  category: string;
  condition: Condition;
  delaySeconds: number;
  aggregateWindowSeconds: number;
  enabled: boolean;
  createdAt: Date;
  updatedAt: Date;
  updatedBy: string;
}

export type RuleInput = Omit<Rule, "id" | "createdAt" | "updatedAt" | "updatedBy">;

const CHANNEL = /^[a-z][a-z0-9_]{0,31}$/;
const MAX_DELAY_S = 30 * 24 * 3600;
const MAX_WINDOW_S = 7 * 24 * 3600;

interface RuleRow {
  id: number;
  event_type: string;
  name: string;
  action: number;
  template_key: string;
  channels: string;
  category: string;
  condition_json: string;
  delay_seconds: number;
  aggregate_window_seconds: number;
  enabled: number;
  created_at: Date;
  updated_at: Date;
  updated_by: string;
}

const toRule = (r: RuleRow): Rule => ({
  id: Number(r.id),
  eventType: r.event_type,
  name: r.name,
  action: (r.action === Action.Digest ? Action.Digest : Action.Send) as ActionValue,
  template: r.template_key,
  channels: r.channels ? r.channels.split(",") : [],
  category: r.category,
  condition: JSON.parse(r.condition_json || "{}") as Condition,
  delaySeconds: Number(r.delay_seconds),
  aggregateWindowSeconds: Number(r.aggregate_window_seconds),
  enabled: r.enabled === 1,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
});

/** Checks a rule; field names are "rule.<field>" as the API spells them. */
export async function validateRule(input: RuleInput, templates: Pick<TemplateCatalog, "resolveForSend">): Promise<RuleInput> {
  const f = (n: string) => `rule.${n}`;
  if (!EVENT_TYPE.test(input.eventType)) throw invalid(f("event_type"), `must match ${EVENT_TYPE.source}`);
  if (input.name.length > 200) throw invalid(f("name"), "at most 200 characters");
  const problems = checkCondition(input.condition as JsonObject, f("condition"));
  if (problems.length) throw new ConnectError(problems.join("; "), Code.InvalidArgument);
  if (!Number.isInteger(input.delaySeconds) || input.delaySeconds < 0 || input.delaySeconds > MAX_DELAY_S) {
    throw invalid(f("delay_seconds"), `must be within 0..${MAX_DELAY_S} (30 days)`);
  }
  if (!Number.isInteger(input.aggregateWindowSeconds) || input.aggregateWindowSeconds < 0 || input.aggregateWindowSeconds > MAX_WINDOW_S) {
    throw invalid(f("aggregate_window_seconds"), `must be within 0..${MAX_WINDOW_S} (7 days)`);
  }
  if (input.action === Action.Digest) {
    if (input.template || input.channels.length || input.aggregateWindowSeconds || input.delaySeconds) {
      throw invalid(f("action"), "a DIGEST rule stores the event; leave template, channels, delay and aggregation empty");
    }
    // digest_items.kind is VARCHAR(32) (the campaign area's migration 030 creates the table first).
    if (input.eventType.length > 32) throw invalid(f("event_type"), "a DIGEST rule's event type is at most 32 characters");
    return { ...input, category: "" };
  }
  if (input.category && !(CATEGORIES as readonly string[]).includes(input.category)) {
    throw invalid(f("category"), `must be one of ${CATEGORIES.join(", ")}`);
  }
  if (!input.template) throw invalid(f("template"), "required for a SEND rule");
  const pinned = await templates.resolveForSend(input.template, undefined, f("template"));
  const channels = [...new Set(input.channels)];
  channels.forEach((c, i) => {
    if (!CHANNEL.test(c)) throw invalid(f(`channels[${i}]`), `"${c}" is not a channel name`);
    if (!pinned.channels.includes(c)) throw invalid(f(`channels[${i}]`), `template "${pinned.key}" has no content for channel "${c}"`);
  });
  return { ...input, channels };
}

/**
 * Trigger rules in MariaDB. The router reads enabled rules through a cache of a few seconds, so a
 * change made on any node applies everywhere shortly after; this node's own writes apply at once.
 */
export function createRuleStore(db: Db, ttlMs = 5000) {
  let cache: { byType: Map<string, Rule[]>; until: number } | undefined;

  const get = async (id: number): Promise<Rule | undefined> => {
    const [rows] = (await db.query("SELECT * FROM trigger_rules WHERE id = ?", [id])) as unknown as [RuleRow[]];
    return rows[0] ? toRule(rows[0]) : undefined;
  };
  const mustGet = async (id: number) => {
    const r = await get(id);
    if (!r) throw new ConnectError(`rule ${id} not found`, Code.NotFound);
    return r;
  };
  const values = (r: RuleInput) => [
    r.eventType,
    r.name,
    r.action,
    r.template,
    r.channels.join(","),
    r.category,
    JSON.stringify(r.condition ?? {}),
    r.delaySeconds,
    r.aggregateWindowSeconds,
    r.enabled ? 1 : 0,
  ];

  return {
    get,
    mustGet,
    async list(eventType = ""): Promise<Rule[]> {
      const [rows] = (await db.query(
        `SELECT * FROM trigger_rules ${eventType ? "WHERE event_type = ?" : ""} ORDER BY event_type, id`,
        eventType ? [eventType] : [],
      )) as unknown as [RuleRow[]];
      return rows.map(toRule);
    },
    async create(r: RuleInput, actor: string): Promise<Rule> {
      const now = new Date();
      const [res] = (await db.query(
        `INSERT INTO trigger_rules (event_type, name, action, template_key, channels, category, condition_json,
           delay_seconds, aggregate_window_seconds, enabled, created_at, updated_at, updated_by)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [...values(r), now, now, actor.slice(0, 100)],
      )) as unknown as [{ insertId: number }];
      cache = undefined;
      return mustGet(Number(res.insertId));
    },
    async update(id: number, r: RuleInput, actor: string): Promise<Rule> {
      const [res] = (await db.query(
        `UPDATE trigger_rules SET event_type = ?, name = ?, action = ?, template_key = ?, channels = ?, category = ?,
           condition_json = ?, delay_seconds = ?, aggregate_window_seconds = ?, enabled = ?, updated_at = ?, updated_by = ?
         WHERE id = ?`,
        [...values(r), new Date(), actor.slice(0, 100), id],
      )) as unknown as [{ affectedRows: number }];
      if (res.affectedRows === 0) throw new ConnectError(`rule ${id} not found`, Code.NotFound);
      cache = undefined;
      return mustGet(id);
    },
    async setEnabled(id: number, enabled: boolean, actor: string): Promise<Rule> {
      await mustGet(id);
      await db.query("UPDATE trigger_rules SET enabled = ?, updated_at = ?, updated_by = ? WHERE id = ?", [enabled ? 1 : 0, new Date(), actor.slice(0, 100), id]);
      cache = undefined;
      return mustGet(id);
    },
    async remove(id: number): Promise<boolean> {
      const [res] = (await db.query("DELETE FROM trigger_rules WHERE id = ?", [id])) as unknown as [{ affectedRows: number }];
      cache = undefined;
      return res.affectedRows > 0;
    },
    /** Enabled rules of one event type, cached. */
    async forType(type: string): Promise<Rule[]> {
      if (!cache || cache.until < Date.now()) {
        const [rows] = (await db.query("SELECT * FROM trigger_rules WHERE enabled = 1 ORDER BY id")) as unknown as [RuleRow[]];
        const byType = new Map<string, Rule[]>();
        for (const r of rows.map(toRule)) byType.set(r.eventType, [...(byType.get(r.eventType) ?? []), r]);
        cache = { byType, until: Date.now() + ttlMs };
      }
      return cache.byType.get(type) ?? [];
    },
    invalidate() {
      cache = undefined;
    },
  };
}

export type RuleStore = ReturnType<typeof createRuleStore>;
