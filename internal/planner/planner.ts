import type { JetStreamClient, JsMsg } from "nats";
import type { Logger } from "../log/logger.js";
import { withTx, type Db } from "../store/db.js";
import { publishAll, decodeJson, encodeJson, type OutMessage } from "../bus/publish.js";
import type { Outcome } from "../bus/consumer.js";
import type { Topology } from "../bus/topology.js";
import { deliveryId, recipientKey } from "../delivery/ids.js";
import type { NotificationRow } from "../notification/queries.js";
import { createBatcher, createKeyedBatcher } from "../store/batcher.js";
import { DeliveryState, NotificationState, type DeliverMessage, type RequestMessage } from "../notification/model.js";
import type { NormalRecipient } from "../notification/validate.js";
import type { LocalDelivery } from "../delivery/local.js";
import type { CarriedProfile } from "../users/profile.js";
import { addressDecisionKey, decisionKey, type Decision, type PlanPolicy } from "./policy.js";

/** Larger data stays in the notification's row; the worker reads it from there. */
const INLINE_DATA_MAX = 4096;

export interface PlannerDeps {
  db: Db;
  js: JetStreamClient;
  topology: Topology;
  policy: PlanPolicy;
  log: Logger;
  /** Channels that take bare email addresses. */
  addressChannels?: string[];
  /** Called after each notification is recorded: deliveries created now, and those published (metrics). */
  observe?: (created: PlannedDelivery[], published: PlannedDelivery[]) => void;
  /**
   * This process's worker for a channel, when it may deliver what this process planned from its own
   * Sends (see delivery/local.ts); consulted at each handoff.
   */
  local?: (channel: string) => LocalDelivery | undefined;
  /** How deliveries are published when the caller names no way (default: publishAll, a message each). */
  publish?: (msgs: OutMessage[]) => Promise<unknown>;
}

export interface PlannedDelivery {
  id: string;
  recipient: string;
  userId: string;
  address?: string;
  channel: string;
  decision: Decision;
  /** Set when the row is inserted already claimed by this process for this long (local delivery). */
  leaseMs?: number;
  /** The recipient's profile, when the caller has just read it (a campaign's directory page). */
  profile?: CarriedProfile;
}

/**
 * Turns an accepted notification into ledger rows, one per recipient and channel, and publishes one
 * message per delivery. Safe to run twice for the same notification: ids are derived, rows are
 * INSERT IGNOREd, publishes are deduplicated by msgID, and an already-final row is skipped by workers.
 */
export function createPlanner(d: PlannerDeps) {
  const addressChannels = new Set(d.addressChannels ?? ["email"]);

  async function plan(n: NotificationRow, recipients: NormalRecipient[]): Promise<PlannedDelivery[]> {
    const channels = n.channels.split(",").filter(Boolean);
    const userIds = recipients.flatMap((r) => ("userId" in r ? [r.userId] : []));
    const addresses = recipients.flatMap((r) => ("email" in r ? [r.email] : []));
    const decisions = await d.policy.decide({
      notificationId: n.id,
      category: n.category,
      senderId: n.sender_id,
      templateKey: n.template_key,
      userIds,
      addresses,
      channels,
    });
    const out: PlannedDelivery[] = [];
    for (const r of recipients) {
      const rk = recipientKey(r);
      for (const ch of channels) {
        if ("email" in r && !addressChannels.has(ch)) continue;
        const key = "userId" in r ? decisionKey(r.userId, ch) : addressDecisionKey(r.email, ch);
        const decision: Decision = decisions.get(key) ?? { kind: "deliver" };
        out.push({
          id: deliveryId(n.id, rk, ch),
          recipient: rk,
          userId: "userId" in r ? r.userId : "",
          address: "email" in r ? r.email : undefined,
          channel: ch,
          decision,
        });
      }
    }
    return out;
  }

  // Notifications planned at the same time share their statements, however many there are: one read
  // (those that come from the broker), one insert of ledger rows with their history (one transaction),
  // one packet that settles them after publishing.
  const readNotifications = createKeyedBatcher<string, NotificationRow>(
    async (ids) => {
      const [rows] = (await d.db.query("SELECT * FROM notifications WHERE id IN (?)", [ids])) as unknown as [NotificationRow[]];
      return new Map(rows.map((r) => [r.id, r]));
    },
    { maxItems: 200 },
  );
  // Once a notification's deliveries are published: its status moves to planned and, when this process
  // accepted it (handoff.ts), its request's outbox row goes. Both in one packet for the whole batch.
  const settle = createBatcher<{ id: string; accepted: boolean; drop: boolean }, void>({
    maxItems: 500,
    maxConcurrent: 2,
    run: async (items) => {
      const planned = [...new Set(items.filter((i) => i.accepted).map((i) => i.id))];
      const dropped = [...new Set(items.filter((i) => i.drop).map((i) => i.id))];
      const sql: string[] = [];
      const values: unknown[] = [];
      if (planned.length > 0) {
        sql.push("UPDATE notifications SET status = ?, planned_at = CURRENT_TIMESTAMP(3) WHERE id IN (?) AND status = ?");
        values.push(NotificationState.Planned, planned, NotificationState.Accepted);
      }
      if (dropped.length > 0) {
        sql.push("DELETE FROM outbox WHERE msg_id IN (?) AND topic = ?");
        values.push(dropped, d.topology.subjects.requests);
      }
      if (sql.length > 0) await d.db.query(sql.join(";\n"), values);
      return items.map(() => undefined);
    },
  });
  type Written = { fresh: PlannedDelivery[]; existing: Map<string, number> };
  const writeRows = createBatcher<{ n: NotificationRow; planned: PlannedDelivery[] }, Written>({
    maxItems: 200,
    maxConcurrent: 2,
    run: async (items) => {
      // Insert first, read back only what this call did not create: for a new notification (the
      // common case) there is nothing to read. Two copies of one request planned together: the first
      // item naming a row inserts it.
      const rows = new Map<string, { n: NotificationRow; p: PlannedDelivery }>();
      for (const { n, planned } of items) for (const p of planned) if (!rows.has(p.id)) rows.set(p.id, { n, p });
      const won = await insertPlanned(d.db, [...rows.values()]);
      const others = [...rows.keys()].filter((id) => !won.has(id));
      const existing = new Map<string, number>();
      if (others.length > 0) {
        const [found] = (await d.db.query("SELECT id, status FROM deliveries WHERE id IN (?)", [others])) as unknown as [
          { id: string; status: number }[],
        ];
        for (const r of found) existing.set(r.id, r.status);
      }
      const claimed = new Set<string>();
      return items.map(({ planned }) => ({
        fresh: planned.filter((p) => won.has(p.id) && !claimed.has(p.id) && claimed.add(p.id)),
        existing,
      }));
    },
  });

  /**
   * Writes the planned rows (new ones only) and publishes the deliverable ones. `publish` lets a caller
   * pace the broker (campaign fan-out spends one token per message); the default publishes at once.
   */
  async function record(
    n: NotificationRow,
    planned: PlannedDelivery[],
    publish: (msgs: OutMessage[]) => Promise<unknown> = d.publish ?? ((msgs) => publishAll(d.js, msgs)),
    here = false,
  ): Promise<{ created: number; published: number; delivering: Promise<unknown> }> {
    if (planned.length === 0) return { created: 0, published: 0, delivering: Promise.resolve() };
    // Deliveries this process will make itself are inserted claimed; a place is reserved for each first.
    const takers = new Map<PlannedDelivery, LocalDelivery>();
    if (here && d.local) {
      for (const p of planned) {
        const local = p.decision.kind === "deliver" ? d.local(p.channel) : undefined;
        if (local?.reserve()) {
          takers.set(p, local);
          p.leaseMs = local.leaseMs;
        }
      }
    }
    let fresh: PlannedDelivery[];
    let existing: Map<string, number>;
    try {
      ({ fresh, existing } = await writeRows({ n, planned }));
    } catch (err) {
      for (const local of takers.values()) local.unreserve();
      throw err;
    }
    const created = new Set(fresh);
    const inline = n.campaign_id == null && n.data.length <= INLINE_DATA_MAX;
    const body = (p: PlannedDelivery): DeliverMessage => ({
      d: p.id,
      n: n.id,
      ch: p.channel,
      u: p.userId || undefined,
      a: p.address,
      v: n.template_version_id,
      l: n.locale,
      c: n.category,
      x: inline ? { data: n.data, template: n.template_key, sender: n.sender_id } : undefined,
      p: p.profile,
    });
    const local: Promise<void>[] = [];
    for (const [p, taker] of takers) {
      // A row that existed already was not inserted claimed: it goes the broker's way below.
      if (created.has(p)) local.push(taker.deliver(body(p)));
      else taker.unreserve();
    }
    const toSend = planned.filter(
      (p) =>
        p.decision.kind !== "skip" &&
        !(takers.has(p) && created.has(p)) &&
        (existing.get(p.id) ?? DeliveryState.Pending) === DeliveryState.Pending,
    );
    const msg = (p: PlannedDelivery): OutMessage => ({
      subject: d.topology.subjects.deliver(p.channel),
      msgId: p.id,
      data: encodeJson(body(p) satisfies DeliverMessage),
    });
    const now2 = toSend.filter((p) => p.decision.kind === "deliver");
    const held = toSend.filter((p) => p.decision.kind === "hold");
    if (held.length > 0) {
      // Held deliveries leave through the outbox, which publishes each row when it becomes due.
      await d.db.query("INSERT INTO outbox (topic, msg_id, payload, available_at) VALUES ?", [
        held.map((p) => {
          const m = msg(p);
          return [m.subject, m.msgId, Buffer.from(m.data), (p.decision as { until: Date }).until];
        }),
      ]);
    }
    await publish(now2.map(msg));
    d.observe?.(fresh, now2);
    return { created: fresh.length, published: now2.length, delivering: Promise.all(local) };
  }

  /**
   * Plans a notification and publishes its deliveries; `drop`: its request's outbox row goes too, and
   * the deliveries this process can make itself are made here (local.ts).
   */
  async function planRow(n: NotificationRow, drop: boolean): Promise<void> {
    const recipients = JSON.parse(n.recipients) as NormalRecipient[];
    const planned = await plan(n, recipients);
    const { delivering, ...r } = await record(n, planned, undefined, drop);
    if (n.status === NotificationState.Accepted || drop) await settle({ id: n.id, accepted: n.status === NotificationState.Accepted, drop });
    d.log.debug({ notificationId: n.id, ...r }, "notification planned");
    // The handoff counts a notification in flight until its local deliveries are done (bounded, drained on stop).
    await delivering;
  }

  async function handle(m: JsMsg): Promise<Outcome> {
    let body: RequestMessage;
    try {
      body = decodeJson<RequestMessage>(m.data);
    } catch {
      return { kind: "poison", reason: "undecodable request message" };
    }
    const n = await readNotifications(body.notificationId);
    if (!n) return { kind: "term", reason: `unknown notification ${body.notificationId}` };
    await planRow(n, false);
    return { kind: "ack" };
  }

  /**
   * Plans a notification this process has just accepted (see handoff.ts), from the row it wrote, then
   * deletes its request's outbox row.
   */
  const planHere = (n: NotificationRow): Promise<void> => planRow(n, true);

  return { handle, plan, record, planHere };
}

export type Planner = ReturnType<typeof createPlanner>;

/**
 * Inserts the planned rows with their first history event and returns the ids this call created.
 * RETURNING names them: a copy of the request planned at the same moment elsewhere (a redelivery,
 * another replica) passed the existence check too, and only the INSERT that won may write the event.
 * One transaction, so a row is never left without it.
 */
async function insertPlanned(db: Db, rows: { n: NotificationRow; p: PlannedDelivery }[]): Promise<Set<string>> {
  const now = new Date();
  const stateOf = (p: PlannedDelivery) =>
    p.decision.kind === "skip" ? DeliveryState.Skipped : p.leaseMs ? DeliveryState.Sending : DeliveryState.Pending;
  const detailOf = (p: PlannedDelivery) =>
    p.decision.kind === "skip" ? p.decision.reason : p.decision.kind === "hold" ? `held until ${p.decision.until.toISOString()}` : "planned";
  return withTx(db, async (c) => {
    const [inserted] = (await c.query(
      `INSERT IGNORE INTO deliveries (id, notification_id, recipient, user_id, channel, status, last_error, not_before,
         attempts, lease_until, created_at, updated_at) VALUES ? RETURNING id`,
      [
        rows.map(({ n, p }) => [
          p.id,
          n.id,
          p.recipient,
          p.userId,
          p.channel,
          stateOf(p),
          p.decision.kind === "skip" ? p.decision.reason : "",
          p.decision.kind === "hold" ? p.decision.until : null,
          // Claimed at birth by this process (local delivery): attempt 1 under way, leased.
          p.leaseMs ? 1 : 0,
          p.leaseMs ? new Date(now.getTime() + p.leaseMs) : null,
          now,
          now,
        ]),
      ],
    )) as unknown as [{ id: string }[]];
    const won = new Set(inserted.map((r) => r.id));
    const created = rows.filter(({ p }) => won.has(p.id));
    if (created.length > 0)
      await c.commitWith("INSERT INTO delivery_events (delivery_id, at, status, detail) VALUES ?", [
        // A row inserted claimed was planned all the same: its history starts as every other's.
        created.map(({ p }) => [p.id, now, p.leaseMs ? DeliveryState.Pending : stateOf(p), detailOf(p)]),
      ]);
    return won;
  });
}
