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
import { addressDecisionKey, decisionKey, type Decision, type PlanPolicy } from "./policy.js";

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
}

export interface PlannedDelivery {
  id: string;
  recipient: string;
  userId: string;
  address?: string;
  channel: string;
  decision: Decision;
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

  // Notifications planned at the same time share their statements: one read, one existence check,
  // one insert of ledger rows and one of their history, one status update, however many there are.
  const readNotifications = createKeyedBatcher<string, NotificationRow>(
    async (ids) => {
      const [rows] = (await d.db.query("SELECT * FROM notifications WHERE id IN (?)", [ids])) as unknown as [NotificationRow[]];
      return new Map(rows.map((r) => [r.id, r]));
    },
    { maxItems: 200 },
  );
  const markPlanned = createBatcher<string, void>({
    maxItems: 500,
    maxConcurrent: 2,
    run: async (ids) => {
      await d.db.query("UPDATE notifications SET status = ?, planned_at = CURRENT_TIMESTAMP(3) WHERE id IN (?) AND status = ?", [
        NotificationState.Planned,
        [...new Set(ids)],
        NotificationState.Accepted,
      ]);
      return ids.map(() => undefined);
    },
  });
  type Written = { fresh: PlannedDelivery[]; existing: Map<string, number> };
  const writeRows = createBatcher<{ n: NotificationRow; planned: PlannedDelivery[] }, Written>({
    maxItems: 200,
    maxConcurrent: 2,
    run: async (items) => {
      const ids = [...new Set(items.flatMap((i) => i.planned.map((p) => p.id)))];
      const [existingRows] = (await d.db.query("SELECT id, status FROM deliveries WHERE id IN (?)", [ids])) as unknown as [
        { id: string; status: number }[],
      ];
      const existing = new Map(existingRows.map((r) => [r.id, r.status]));
      // Two copies of one request planned together: the first creates the rows.
      const claimed = new Set<string>();
      const out = items.map(({ n, planned }) => ({
        n,
        fresh: planned.filter((p) => !existing.has(p.id) && !claimed.has(p.id) && claimed.add(p.id)),
      }));
      const rows = out.flatMap(({ n, fresh }) => fresh.map((p) => ({ n, p })));
      if (rows.length > 0) {
        const won = await insertPlanned(d.db, rows);
        for (const o of out) o.fresh = o.fresh.filter((p) => won.has(p.id));
      }
      return out.map(({ fresh }) => ({ fresh, existing }));
    },
  });

  /**
   * Writes the planned rows (new ones only) and publishes the deliverable ones. `publish` lets a caller
   * pace the broker (campaign fan-out spends one token per message); the default publishes at once.
   */
  async function record(
    n: NotificationRow,
    planned: PlannedDelivery[],
    publish: (msgs: OutMessage[]) => Promise<unknown> = (msgs) => publishAll(d.js, msgs),
  ): Promise<{ created: number; published: number }> {
    if (planned.length === 0) return { created: 0, published: 0 };
    const { fresh, existing } = await writeRows({ n, planned });
    const toSend = planned.filter(
      (p) => p.decision.kind !== "skip" && (existing.get(p.id) ?? DeliveryState.Pending) === DeliveryState.Pending,
    );
    const msg = (p: PlannedDelivery): OutMessage => ({
      subject: d.topology.subjects.deliver(p.channel),
      msgId: p.id,
      data: encodeJson({
        d: p.id,
        n: n.id,
        ch: p.channel,
        u: p.userId || undefined,
        a: p.address,
        v: n.template_version_id,
        l: n.locale,
        c: n.category,
      } satisfies DeliverMessage),
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
    return { created: fresh.length, published: now2.length };
  }

  /** Plans one accepted notification; false when there is no such notification. */
  async function planById(notificationId: string): Promise<boolean> {
    const n = await readNotifications(notificationId);
    if (!n) return false;
    const recipients = JSON.parse(n.recipients) as NormalRecipient[];
    const planned = await plan(n, recipients);
    const r = await record(n, planned);
    if (n.status === NotificationState.Accepted) await markPlanned(n.id);
    d.log.debug({ notificationId: n.id, ...r }, "notification planned");
    return true;
  }

  async function handle(m: JsMsg): Promise<Outcome> {
    let body: RequestMessage;
    try {
      body = decodeJson<RequestMessage>(m.data);
    } catch {
      return { kind: "poison", reason: "undecodable request message" };
    }
    if (!(await planById(body.notificationId))) return { kind: "term", reason: `unknown notification ${body.notificationId}` };
    return { kind: "ack" };
  }

  // A request planned in this process (see handoff.ts) no longer needs its outbox row.
  const dropRequests = createBatcher<string, void>({
    maxItems: 500,
    maxConcurrent: 2,
    run: async (ids) => {
      await d.db.query("DELETE FROM outbox WHERE msg_id IN (?) AND topic = ?", [[...new Set(ids)], d.topology.subjects.requests]);
      return ids.map(() => undefined);
    },
  });

  /** Plans a notification accepted by this process, then deletes its request's outbox row. */
  async function planHere(notificationId: string): Promise<void> {
    if (await planById(notificationId)) await dropRequests(notificationId);
  }

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
  const stateOf = (p: PlannedDelivery) => (p.decision.kind === "skip" ? DeliveryState.Skipped : DeliveryState.Pending);
  const detailOf = (p: PlannedDelivery) =>
    p.decision.kind === "skip" ? p.decision.reason : p.decision.kind === "hold" ? `held until ${p.decision.until.toISOString()}` : "planned";
  return withTx(db, async (c) => {
    const [inserted] = (await c.query(
      `INSERT IGNORE INTO deliveries (id, notification_id, recipient, user_id, channel, status, last_error, not_before,
         created_at, updated_at) VALUES ? RETURNING id`,
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
          now,
          now,
        ]),
      ],
    )) as unknown as [{ id: string }[]];
    const won = new Set(inserted.map((r) => r.id));
    const created = rows.filter(({ p }) => won.has(p.id));
    if (created.length > 0)
      await c.commitWith("INSERT INTO delivery_events (delivery_id, at, status, detail) VALUES ?", [
        created.map(({ p }) => [p.id, now, stateOf(p), detailOf(p)]),
      ]);
    return won;
  });
}
