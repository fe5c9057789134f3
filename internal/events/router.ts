import { create, type JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { JsMsg } from "nats";
import { SendRequestSchema } from "../../gen/notify/v1/notification_service_pb.js";
import type { Outcome } from "../bus/consumer.js";
import { decodeJson } from "../bus/publish.js";
import type { Topology } from "../bus/topology.js";
import type { Logger } from "../log/logger.js";
import type { Acceptor } from "../notification/accept.js";
import { normalizeSend } from "../notification/validate.js";
import type { Db } from "../store/db.js";
import { withTx } from "../store/db.js";
import type { Links } from "../links/links.js";
import type { Aggregator, DueMessage } from "./aggregate.js";
import { matches } from "./condition.js";
import { DecodeError, decodeEvent, type SiteEvent } from "./decode.js";
import { Action, type Rule, type RuleStore } from "./rules.js";
import type { EventStats } from "./stats.js";

export const EVENTS_SOURCE = "events";

export interface RouterDeps {
  db: Db;
  topology: Topology;
  rules: Pick<RuleStore, "forType" | "get">;
  accept: Acceptor;
  links: Pick<Links, "issue" | "expire">;
  aggregator: Aggregator;
  stats: EventStats;
  /** Channels this deployment can deliver on; rule channels outside it are left out. */
  channels: () => string[];
  deadLetter: (m: JsMsg, kind: "poison" | "max_deliveries", error: string, eventType: string) => Promise<void>;
  log: Logger;
}

/** Refusals that no retry can change: the rule or the event is wrong, not the weather. */
const PERMANENT = [Code.InvalidArgument, Code.NotFound, Code.FailedPrecondition, Code.OutOfRange];

class Refused extends Error {}

/**
 * The event router: consumes `<prefix>.events.>` and turns each event into what its rules ask for,
 * through the same acceptor as the API (source "events"), so an event is one more way to Send.
 * Idempotency key = event id (plus the rule id, as one event can match several rules): a republished
 * event sends nothing twice. Undecodable or refused events go to the dead letters with the reason.
 */
export function createEventRouter(d: RouterDeps) {
  const typeOffset = d.topology.subjects.event("").length;

  const existing = async (key: string) => {
    const [rows] = (await d.db.query("SELECT id FROM notifications WHERE source = ? AND idempotency_key = ?", [EVENTS_SOURCE, key])) as unknown as [
      { id: string }[],
    ];
    return rows[0]?.id;
  };

  const send = async (rule: Rule, key: string, userIds: string[], data: JsonObject, channels: string[]) => {
    const req = create(SendRequestSchema, {
      idempotencyKey: key,
      template: rule.template,
      recipients: userIds.map((id) => ({ target: { case: "userId" as const, value: id } })),
      channels,
      category: rule.category,
      data,
      sendAfter: rule.delaySeconds > 0 ? timestampFromDate(new Date(Date.now() + rule.delaySeconds * 1000)) : undefined,
    });
    try {
      const [a] = await d.accept(EVENTS_SOURCE, [normalizeSend(req)], [""]);
      return a.notificationId;
    } catch (err) {
      if (err instanceof ConnectError && err.code === Code.AlreadyExists) {
        // Same key, other content: the event was handled before the rule (or a link) changed.
        d.log.info({ key, rule: rule.id }, "event already sent under this key; not sending again");
        return undefined;
      }
      if (err instanceof ConnectError && PERMANENT.includes(err.code)) throw new Refused(`rule ${rule.id}: ${err.rawMessage}`);
      throw err;
    }
  };

  /** Rule channels this deployment has; undefined when the rule names channels but none is here. */
  const usableChannels = (rule: Rule) => {
    if (rule.channels.length === 0) return [];
    const known = new Set(d.channels());
    const ok = rule.channels.filter((c) => known.has(c));
    return ok.length ? ok : undefined;
  };

  async function apply(rule: Rule, ev: SiteEvent) {
    if (rule.action === Action.Digest) {
      await withTx(d.db, async (c) => {
        const [r] = (await c.query("INSERT IGNORE INTO event_receipts (rule_id, event_id, created_at) VALUES (?, ?, ?)", [
          rule.id,
          ev.id,
          new Date(),
        ])) as unknown as [{ affectedRows: number }];
        if (r.affectedRows === 0) return;
        await c.query("INSERT INTO digest_items (kind, payload, created_at) VALUES (?, ?, ?)", [ev.type, JSON.stringify(ev.fields), new Date()]);
      });
      return;
    }
    const channels = usableChannels(rule);
    if (!channels) {
      d.log.debug({ rule: rule.id, channels: rule.channels }, "none of the rule's channels is enabled here; skipped");
      return;
    }
    if (ev.userIds.length === 0) {
      d.log.info({ rule: rule.id, event: ev.id }, "event names no user; nothing to send");
      return;
    }
    if (rule.aggregateWindowSeconds > 0) {
      await d.aggregator.add(rule, ev, ev.data);
      return;
    }
    const key = `${ev.id}:r${rule.id}`;
    if (ev.type !== "user_registered") {
      await send(rule, key, ev.userIds, { count: 1, ...ev.data }, channels);
      return;
    }
    // The welcome mail carries a confirmation link. The link's code exists only in the mail, so a
    // republished event must not mint a second link: look for the notification first.
    if (await existing(key)) return;
    const link = await d.links.issue(ev.userIds[0]);
    try {
      const id = await send(rule, key, [ev.userIds[0]], { ...ev.data, confirm_url: link.url }, channels);
      if (!id) await d.links.expire(link.id);
    } catch (err) {
      await d.links.expire(link.id).catch(() => undefined);
      throw err;
    }
  }

  async function handleDue(m: JsMsg): Promise<Outcome> {
    let due: DueMessage;
    try {
      due = decodeJson<DueMessage>(m.data);
    } catch {
      return { kind: "term", reason: "bad aggregate-due message" };
    }
    const w = await d.aggregator.close(Number(due.aggregateId));
    if (!w) return { kind: "ack" };
    if ("notYet" in w) return { kind: "retry", error: "window still open", delayMs: Math.min(w.notYet + 50, 3_600_000) };
    const rule = await d.rules.get(w.ruleId);
    if (!rule || !rule.enabled) return { kind: "ack" };
    const channels = usableChannels(rule);
    if (!channels) return { kind: "ack" };
    const id = await send(rule, `agg-${w.id}`, [w.userId], { ...w.data, count: w.count }, channels);
    if (id && id !== w.notificationId) await d.aggregator.recordNotification(w.id, id);
    return { kind: "ack" };
  }

  async function handle(m: JsMsg): Promise<Outcome> {
    if (m.subject === d.topology.subjects.aggregateDue) {
      try {
        return await handleDue(m);
      } catch (err) {
        if (err instanceof Refused) return { kind: "poison", reason: err.message };
        throw err;
      }
    }
    const type = m.subject.slice(typeOffset);
    const statType = /^[a-z][a-z0-9_]{0,63}$/.test(type) ? type : "_invalid";
    if (m.info.deliveryCount === 1) d.stats.add(statType, "received");
    let ev: SiteEvent;
    try {
      ev = decodeEvent(type, m.data, m.headers?.get("content-type") || undefined, new Date());
    } catch (err) {
      if (err instanceof DecodeError) return { kind: "poison", reason: `undecodable event: ${err.message}` };
      throw err;
    }
    const rules = (await d.rules.forType(ev.type)).filter((r) => matches(r.condition, ev.fields));
    if (rules.length === 0) {
      if (m.info.deliveryCount === 1) d.stats.add(statType, "unmatched");
      return { kind: "ack" };
    }
    const refused: string[] = [];
    for (const rule of rules) {
      try {
        await apply(rule, ev);
      } catch (err) {
        // Other rules still run; the event is parked once all had their turn.
        if (err instanceof Refused) refused.push(err.message);
        else throw err;
      }
    }
    if (refused.length) return { kind: "poison", reason: `refused: ${refused.join("; ")}` };
    return { kind: "ack" };
  }

  /** Dead-letters an event (poison, or out of retries) and counts it. */
  async function onDeadLetter(m: JsMsg, info: { kind: "poison" | "max_deliveries"; error: string }) {
    const type = m.subject.slice(typeOffset);
    const statType = /^[a-z][a-z0-9_]{0,63}$/.test(type) ? type : "_invalid";
    await d.deadLetter(m, info.kind, info.error, statType);
    d.stats.add(statType, "dead");
  }

  return { handle, onDeadLetter };
}
