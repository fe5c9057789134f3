import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { DeliveryState } from "../internal/notification/model.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";
import { scrape, sumOf } from "./scale/prom-text.js";

// A process with the api, planner and worker roles delivers its own Sends without the broker
// (internal/delivery/local.ts); what the broker gives the other path still holds.
let stack: TestStack;
let node: TestNode;
let db: mysql.Connection;
let client: ReturnType<typeof createConnectClient<typeof NotificationService>>;

const mail = (key: string, email: string) => ({
  idempotencyKey: key,
  template: "plain",
  recipients: [{ target: { case: "email" as const, value: email } }],
  data: { subject: "Local", body: "Path" },
});
const counter = async (n: TestNode, name: string, labels: Record<string, string>) => sumOf(await scrape(`${n.httpUrl}/metrics`), name, labels);

/** Messages ever published to the work stream (acknowledged ones leave a work queue, their sequence stays). */
async function brokerMessages(): Promise<number> {
  const info = await node.ctx.bus.jsm.streams.info(node.ctx.topology.streams.work);
  return Number(info.state.last_seq);
}

async function delivery(notificationId: string) {
  const [rows] = (await db.query("SELECT id, status, attempts, resent_after_uncertain FROM deliveries WHERE notification_id = ?", [
    notificationId,
  ])) as unknown as [{ id: string; status: number; attempts: number; resent_after_uncertain: number }[]];
  return rows[0];
}

async function history(deliveryId: string) {
  const [rows] = (await db.query("SELECT status, detail FROM delivery_events WHERE delivery_id = ? ORDER BY id", [deliveryId])) as unknown as [
    { status: number; detail: string }[],
  ];
  return rows;
}

beforeAll(async () => {
  stack = await startTestStack("localdel", { users: 20 });
  node = await stack.startNode("api,relay,planner,worker");
  client = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  db = await mysql.createConnection(stack.dbUrl);
});

afterAll(async () => {
  await db?.end();
  await stack?.close();
});

describe("local delivery", () => {
  it("delivers a Send in the process that accepted it, without a broker message or a claim of its own", async () => {
    const before = await counter(node, "notify_local_deliveries_total", { channel: "email", outcome: "delivered" });
    const published = await counter(node, "notify_deliveries_published_total", { channel: "email" });
    const seq = await brokerMessages();
    const { notificationId } = await client.send(mail("local-1", "local1@example.test"));
    const [got] = await stack.sink.waitForMessages(1, 15_000);
    expect(got.to).toEqual(["local1@example.test"]);
    const d = await eventually(async () => {
      const r = await delivery(notificationId);
      return r?.status === DeliveryState.Sent ? r : undefined;
    });
    expect(d.attempts).toBe(1);
    expect(d.resent_after_uncertain).toBe(0);
    expect((await history(d.id)).map((e) => e.status)).toEqual([DeliveryState.Pending, DeliveryState.Sent]);
    expect(await counter(node, "notify_local_deliveries_total", { channel: "email", outcome: "delivered" })).toBe(before + 1);
    expect(await counter(node, "notify_deliveries_published_total", { channel: "email" })).toBe(published);
    // Neither the request (planned here) nor the delivery went through the broker.
    expect(await brokerMessages()).toBe(seq);
  });

  it("sends a failed local attempt through the outbox after the back-off, counting it among the attempts", async () => {
    stack.sink.reset();
    const addr = "local2@example.test";
    stack.sink.rejectRecipients(addr, 451);
    const seq = await brokerMessages();
    const { notificationId } = await client.send(mail("local-2", addr));
    // The first attempt (local) and the second (from the broker) fail; then the mailbox is fixed.
    const id = await eventually(async () => (await delivery(notificationId))?.id);
    await eventually(async () => (await history(id)).filter((e) => e.detail.startsWith("retry:")).length >= 2 || undefined, 10_000);
    stack.sink.clearRejections();
    const d = await eventually(async () => {
      const r = await delivery(notificationId);
      return r?.status === DeliveryState.Sent ? r : undefined;
    }, 15_000);
    expect(d.attempts).toBe(3);
    const events = await history(d.id);
    expect(events.filter((e) => e.detail.startsWith("retry:"))).toHaveLength(2);
    expect(events.at(-1)).toMatchObject({ status: DeliveryState.Sent, detail: "attempt 3" });
    expect(await counter(node, "notify_local_deliveries_total", { channel: "email", outcome: "retry" })).toBe(1);
    // The retry travelled as one broker message (the broker's redelivery made attempt 3).
    expect(await brokerMessages()).toBe(seq + 1);
    expect(await stack.sink.waitForMessages(1, 5000)).toHaveLength(1);
  });

  it("leaves the deliveries of a process without a worker for the channel to the broker", async () => {
    const apiOnly = await stack.startNode("api,planner");
    try {
      const other = createConnectClient(NotificationService, { baseUrl: apiOnly.grpcUrl, apiKey: stack.apiKey });
      const before = await brokerMessages();
      const { notificationId } = await other.send(mail("local-3", "local3@example.test"));
      await eventually(async () => ((await delivery(notificationId))?.status === DeliveryState.Sent ? true : undefined), 15_000);
      expect(await counter(apiOnly, "notify_deliveries_published_total", { channel: "email" })).toBe(1);
      // The delivery's message (the request was planned in that process).
      expect(await brokerMessages()).toBe(before + 1);
    } finally {
      await apiOnly.stop();
    }
  });

  it("publishes every delivery when NOTIFY_LOCAL_DELIVERY=false", async () => {
    const off = await stack.startNode("api,planner,worker", { NOTIFY_LOCAL_DELIVERY: "false" });
    try {
      const other = createConnectClient(NotificationService, { baseUrl: off.grpcUrl, apiKey: stack.apiKey });
      const { notificationId } = await other.send(mail("local-4", "local4@example.test"));
      await eventually(async () => ((await delivery(notificationId))?.status === DeliveryState.Sent ? true : undefined), 15_000);
      expect(await counter(off, "notify_deliveries_published_total", { channel: "email" })).toBe(1);
      expect(await counter(off, "notify_local_deliveries_total", {})).toBe(0);
    } finally {
      await off.stop();
    }
  });
});
