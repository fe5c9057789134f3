import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { AckPolicy, nanos } from "nats";
import { Code, ConnectError } from "@connectrpc/connect";
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { OpsService } from "../gen/notify/v1/ops_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { createDb, type Db } from "../internal/store/db.js";
import { encodeJson } from "../internal/bus/publish.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";

// Retries, dead letters and the reconciler against a real stack: short back-off (400 ms, 800 ms,
// 1.6 s: MaxDeliver 4) and a reconciler that looks every second for work untouched for 3 s.
const BACKOFF = [400, 800, 1600];

let stack: TestStack;
let node: TestNode;
let db: Db;
let client: ReturnType<typeof createConnectClient<typeof NotificationService>>;
let ops: ReturnType<typeof createConnectClient<typeof OpsService>>;

const mail = (key: string, email: string) => ({
  idempotencyKey: key,
  template: "plain",
  recipients: [{ target: { case: "email" as const, value: email } }],
  data: { subject: `S ${key}`, body: "B" },
});

async function delivery(notificationId: string) {
  const [rows] = (await db.query("SELECT id, status, attempts, last_error, resent_after_uncertain FROM deliveries WHERE notification_id = ?", [
    notificationId,
  ])) as unknown as [{ id: string; status: number; attempts: number; last_error: string; resent_after_uncertain: number }[]];
  return rows[0];
}

async function deadLetterRows(where: string, args: unknown[]) {
  const [rows] = (await db.query(`SELECT * FROM dead_letters WHERE ${where}`, args)) as unknown as [Record<string, unknown>[]];
  return rows;
}

beforeAll(async () => {
  stack = await startTestStack("reliab", {
    users: 20,
    env: {
      NOTIFY_RETRY_BACKOFF: BACKOFF.map((ms) => `${ms}ms`).join(","),
      NOTIFY_RECONCILE_AFTER: "3s",
      NOTIFY_RECONCILE_EVERY: "1s",
      NOTIFY_ACK_WAIT: "5s",
    },
  });
  node = await stack.startNode("api,relay,planner,worker");
  client = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  ops = createConnectClient(OpsService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  db = createDb({ url: stack.dbUrl, poolSize: 2 });
});

afterAll(async () => {
  await db?.end();
  await stack?.close();
});

describe("retries and dead letters", () => {
  it("retries a transient failure on the back-off schedule, then makes it dead; a replay sends it exactly once", async () => {
    const addr = "backoff@example.test";
    stack.sink.rejectRecipients(addr, 451);
    const { notificationId } = await client.send(mail("backoff-1", addr));
    const d = await eventually(async () => {
      const r = await delivery(notificationId);
      return r?.status === 8 ? r : undefined;
    }, 20_000);
    expect(d.attempts).toBe(BACKOFF.length + 1);
    expect(d.last_error).toContain("451");

    // One history row per failed attempt; the gaps between attempts follow the schedule.
    const [events] = (await db.query("SELECT at, status, detail FROM delivery_events WHERE delivery_id = ? ORDER BY id", [d.id])) as unknown as [
      { at: Date; status: number; detail: string }[],
    ];
    // Each failed attempt leaves a "retry:" row (the last one is then followed by the dead row).
    const attempts = events.filter((e) => e.detail.startsWith("retry:")).map((e) => e.at.getTime());
    expect(events.at(-1)?.status).toBe(8);
    expect(attempts).toHaveLength(BACKOFF.length + 1);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
    gaps.forEach((gap, i) => {
      expect(gap).toBeGreaterThanOrEqual(BACKOFF[i] - 50);
      expect(gap).toBeLessThan(BACKOFF[i] + 1500);
    });

    // Captured in the dead letters (table and stream), visible through OpsService.
    const listed = await eventually(async () => {
      const r = await ops.listDeadLetters({ filter: { channel: "email", reason: "max_deliveries" } });
      return r.deadLetters.find((x) => x.deliveryId === d.id);
    });
    expect(listed.deliveries).toBe(BACKOFF.length + 1);
    expect(listed.error).toContain("451");
    const got = await ops.getDeadLetter({ id: listed.id });
    expect(JSON.parse(new TextDecoder().decode(got.payload)).d).toBe(d.id);
    const dlq = await node.ctx.bus.jsm.streams.info(node.ctx.topology.streams.dlq);
    expect(dlq.state.messages).toBeGreaterThanOrEqual(1);

    // The mailbox is fixed; replay once, then again: one email, attempts counted from zero.
    stack.sink.clearRejections();
    const messageId = `<${d.id}@cinema.example>`;
    const first = await ops.replayDeadLetters({ ids: [listed.id] });
    expect(first.replayed).toBe(1);
    await eventually(async () => stack.sink.countFor(messageId) === 1, 15_000);
    const again = await ops.replayDeadLetters({ ids: [listed.id] });
    expect(again).toMatchObject({ replayed: 0, skipped: 1 });
    await new Promise((r) => setTimeout(r, 1500));
    expect(stack.sink.countFor(messageId)).toBe(1);
    const after = await delivery(notificationId);
    expect(after).toMatchObject({ status: 3, attempts: 1 });
    const [row] = await deadLetterRows("id = ?", [Number(listed.id)]);
    expect(Number(row.replays)).toBe(1);
    // Replayed letters leave the default listing.
    const still = await ops.listDeadLetters({ filter: { channel: "email" } });
    expect(still.deadLetters.find((x) => x.id === listed.id)).toBeUndefined();
  });

  it("records a permanent failure as failed after one attempt, without a dead letter", async () => {
    stack.sink.rejectRecipients("gone@example.test", 550);
    const { notificationId } = await client.send(mail("perm-1", "gone@example.test"));
    const d = await eventually(async () => {
      const r = await delivery(notificationId);
      return r?.status === 6 ? r : undefined;
    });
    expect(d.attempts).toBe(1);
    expect(d.last_error).toMatch(/recipient_rejected.*550/);
    await new Promise((r) => setTimeout(r, 1000));
    expect(await deadLetterRows("delivery_id = ?", [d.id])).toHaveLength(0);
  });

  it("fails an unknown user permanently", async () => {
    const { notificationId } = await client.send({
      idempotencyKey: "nouser-1",
      template: "plain",
      channels: ["email"],
      recipients: [{ target: { case: "userId", value: "u999999" } }],
      data: { subject: "S", body: "B" },
    });
    const d = await eventually(async () => {
      const r = await delivery(notificationId);
      return r?.status === 6 ? r : undefined;
    });
    expect(d).toMatchObject({ attempts: 1 });
    expect(d.last_error).toContain("unknown_user");
  });

  it("sends a poison message to the dead letters at once, and the messages behind it go through", async () => {
    const t = node.ctx.topology;
    await node.ctx.bus.js.publish(t.subjects.deliver("email"), new TextEncoder().encode("{not json"), { msgID: `poison-${randomUUID()}` });
    const sends = await Promise.all(Array.from({ length: 5 }, (_, i) => client.send(mail(`behind-${i}`, `behind${i}@example.test`))));
    const poison = await eventually(async () => (await deadLetterRows("reason = 'poison' AND source = 'email'", []))[0]);
    expect(Number(poison.deliveries)).toBe(1);
    expect(String(poison.error)).toContain("undecodable");
    for (const s of sends) await eventually(async () => (await delivery(s.notificationId))?.status === 3);
  });

  it("captures from the MAX_DELIVERIES advisory a message whose worker died on its last attempt", async () => {
    const t = node.ctx.topology;
    const jsm = node.ctx.bus.jsm;
    const id = randomUUID();
    const now = new Date();
    // The row as a dead worker leaves it: sending, lease still held.
    await db.query(
      `INSERT INTO deliveries (id, notification_id, recipient, channel, status, attempts, lease_until, created_at, updated_at)
       VALUES (?, ?, 'e:ghost@example.test', 'ghost', 2, 1, ?, ?, ?)`,
      [id, randomUUID(), new Date(Date.now() + 60_000), now, now],
    );
    await jsm.consumers.add(t.streams.work, {
      durable_name: "ghost",
      filter_subject: t.subjects.deliver("ghost"),
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(1000),
      max_deliver: 1,
    });
    const ack = await node.ctx.bus.js.publish(t.subjects.deliver("ghost"), encodeJson({ d: id, n: "x", ch: "ghost", v: 1, l: "", c: "transactional" }));
    const consumer = await node.ctx.bus.js.consumers.get(t.streams.work, "ghost");
    const m = await consumer.next({ expires: 2000 });
    expect(m?.seq).toBe(ack.seq);
    // Never acknowledged: after ack_wait the broker gives up and announces it; a later pull makes it look.
    await new Promise((r) => setTimeout(r, 1500));
    await consumer.next({ expires: 2000 }).catch(() => undefined);
    const row = await eventually(async () => (await deadLetterRows("delivery_id = ?", [id]))[0], 15_000);
    expect(row).toMatchObject({ source: "ghost", reason: "max_deliveries" });
    expect(Number(row.uncertain)).toBe(1);
    const [[d]] = (await db.query("SELECT status FROM deliveries WHERE id = ?", [id])) as unknown as [{ status: number }[]];
    expect(d.status).toBe(8);
    await eventually(async () => jsm.streams.getMessage(t.streams.work, { seq: ack.seq }).then(() => false, () => true));
    await jsm.consumers.delete(t.streams.work, "ghost");
  });

  it("lets read keys list dead letters but only admin keys replay or purge them", async () => {
    const { key } = await node.ctx.apiKeys.create(`reader-${randomUUID().slice(0, 8)}`, ["read"]);
    const reader = createConnectClient(OpsService, { baseUrl: node.grpcUrl, apiKey: key });
    const page = await reader.listDeadLetters({ filter: { includeReplayed: true } });
    expect(page.deadLetters.length).toBeGreaterThan(0);
    const id = page.deadLetters[0].id;
    for (const call of [() => reader.replayDeadLetters({ ids: [id] }), () => reader.purgeDeadLetters({ ids: [id] })]) {
      const err = await call().catch((e) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.PermissionDenied);
    }
    const poison = await ops.listDeadLetters({ filter: { reason: "poison" } });
    expect(poison.deadLetters).toHaveLength(1);
    const bad = await ops.purgeDeadLetters({}).catch((e) => e);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
    expect(await ops.purgeDeadLetters({ ids: [poison.deadLetters[0].id] })).toMatchObject({ purged: 1 });
    expect((await ops.listDeadLetters({ filter: { reason: "poison" } })).deadLetters).toHaveLength(0);
  });
});

describe("the reconciler", () => {
  it("re-publishes an accepted notification and a pending delivery the broker lost", async () => {
    const seed = await client.send(mail("reconcile-seed", "seed@example.test"));
    await eventually(async () => (await delivery(seed.notificationId))?.status === 3);
    // A notification accepted 10 s ago whose outbox row is gone but nothing was planned.
    const lostId = randomUUID();
    await db.query(
      `INSERT INTO notifications (id, source, idempotency_key, payload_hash, template_key, template_version, template_version_id,
         category, channels, locale, sender_id, campaign_id, data, recipients, recipient_count, status, send_after, created_at)
       SELECT ?, source, 'lost-notification', payload_hash, template_key, template_version, template_version_id, category, channels,
         locale, sender_id, campaign_id, data, ?, 1, 1, NULL, CURRENT_TIMESTAMP(3) - INTERVAL 10 SECOND FROM notifications WHERE id = ?`,
      [lostId, JSON.stringify([{ email: "lost-n@example.test" }]), seed.notificationId],
    );
    // A delivery planned 10 s ago whose message the broker lost.
    const lostDelivery = randomUUID();
    await db.query(
      `INSERT INTO deliveries (id, notification_id, recipient, channel, status, created_at, updated_at)
       VALUES (?, ?, 'e:lost-d@example.test', 'email', 1, CURRENT_TIMESTAMP(3) - INTERVAL 10 SECOND, CURRENT_TIMESTAMP(3) - INTERVAL 10 SECOND)`,
      [lostDelivery, seed.notificationId],
    );
    await eventually(async () => stack.sink.messages().some((m) => m.to.includes("lost-n@example.test")), 20_000);
    await eventually(async () => stack.sink.countFor(`<${lostDelivery}@cinema.example>`) === 1, 20_000);
    const [[n]] = (await db.query("SELECT status, republishes FROM notifications WHERE id = ?", [lostId])) as unknown as [
      { status: number; republishes: number }[],
    ];
    expect(n).toMatchObject({ status: 2, republishes: 1 });
    const [[dv]] = (await db.query("SELECT status, republishes FROM deliveries WHERE id = ?", [lostDelivery])) as unknown as [
      { status: number; republishes: number }[],
    ];
    expect(dv).toMatchObject({ status: 3, republishes: 1 });
    // Nothing fresh is touched.
    const [[fresh]] = (await db.query("SELECT MAX(republishes) AS m FROM deliveries WHERE id <> ?", [lostDelivery])) as unknown as [{ m: number }[]];
    expect(Number(fresh.m)).toBe(0);
  });
});
