import mysql from "mysql2/promise";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";
import { scrape, sumOf, type Sample } from "./scale/prom-text.js";

// /metrics on a real node: counters move as Sends go through, failures are counted by reason, gauges
// show the JetStream backlog, and two nodes in one process keep their own registries.
let stack: TestStack;
let node: TestNode;
let client: ReturnType<typeof createConnectClient<typeof NotificationService>>;
const metrics = () => scrape(`${node.httpUrl}/metrics`);
const plain = (key: string, email: string) => ({
  idempotencyKey: key,
  template: "plain",
  recipients: [{ target: { case: "email" as const, value: email } }],
  data: { subject: "Hi", body: "There" },
});
const moved = (before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}) =>
  sumOf(after, name, labels) - sumOf(before, name, labels);

beforeAll(async () => {
  stack = await startTestStack("opsmetrics", { users: 20 });
  node = await stack.startNode("api,relay,planner,worker", { NOTIFY_METRICS_POLL: "200ms" });
  client = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
});
afterAll(async () => {
  await stack?.close();
});

describe("/metrics", () => {
  it("counts a Send through every stage and times it", async () => {
    const before = await metrics();
    for (let i = 0; i < 3; i++) await client.send(plain(`m-${i}`, `m${i}@example.test`));
    await client.send({ idempotencyKey: "m-user", template: "plain", recipients: [{ target: { case: "userId", value: "u3" } }], data: { subject: "s", body: "b" } });
    await stack.sink.waitForMessages(4, 15_000);
    const after = await eventually(async () => {
      const s = await metrics();
      const done =
        moved(before, s, "notify_deliveries_sent_total", { channel: "email" }) === 4 &&
        moved(before, s, "notify_plan_handoffs_total", { outcome: "planned" }) === 4;
      return done ? s : undefined;
    });
    expect(moved(before, after, "notify_notifications_accepted_total")).toBe(4);
    // The node has the api and planner roles: it plans its own single Sends, and the relay publishes nothing.
    expect(moved(before, after, "notify_plan_handoffs_total", { outcome: "planned" })).toBe(4);
    expect(moved(before, after, "notify_outbox_published_total")).toBe(0);
    expect(moved(before, after, "notify_deliveries_planned_total", { channel: "email", decision: "deliver" })).toBe(4);
    // ...and, running the email worker too, delivers them itself: nothing goes through the broker.
    expect(moved(before, after, "notify_deliveries_published_total", { channel: "email" })).toBe(0);
    expect(moved(before, after, "notify_local_deliveries_total", { channel: "email", outcome: "delivered" })).toBe(4);
    expect(moved(before, after, "notify_accept_to_sent_seconds_count", { channel: "email" })).toBe(4);
    expect(moved(before, after, "notify_channel_send_seconds_count", { channel: "email", outcome: "ok" })).toBe(4);
    expect(moved(before, after, "notify_delivery_attempt_seconds_count", { channel: "email", outcome: "sent" })).toBe(4);
    expect(moved(before, after, "notify_user_service_call_seconds_count", { outcome: "ok" })).toBeGreaterThanOrEqual(1);
    // A repeated idempotency key is not a new notification.
    await client.send(plain("m-0", "m0@example.test"));
    expect(moved(before, await metrics(), "notify_notifications_accepted_total")).toBe(4);
  });

  it("counts permanent failures and retries by reason", async () => {
    const before = await metrics();
    stack.sink.rejectRecipients(/^bounce@/);
    await client.send(plain("m-bounce", "bounce@example.test"));
    const failed = await eventually(async () => {
      const s = await metrics();
      return moved(before, s, "notify_deliveries_failed_total", { channel: "email" }) === 1 ? s : undefined;
    });
    // The channel names the reason (smtp_rejected, recipient_rejected...): a label of its own.
    const reason = failed.find((m) => m.name === "notify_deliveries_failed_total" && m.value > 0)?.labels.reason;
    expect(reason).toMatch(/^[a-z_]+$/);
    expect(reason).toMatch(/reject/);
    stack.sink.clearRejections();

    stack.sink.setMode({ kind: "tempfail", code: 451, times: 1 });
    await client.send(plain("m-retry", "retry@example.test"));
    const after = await eventually(async () => {
      const s = await metrics();
      return moved(before, s, "notify_deliveries_sent_total", { channel: "email" }) === 1 ? s : undefined;
    });
    expect(moved(before, after, "notify_deliveries_retried_total", { channel: "email" })).toBe(1);
    expect(after.find((m) => m.name === "notify_deliveries_retried_total" && m.value > 0)?.labels.reason).toMatch(/^smtp_/);
    expect(moved(before, after, "notify_channel_send_seconds_count", { channel: "email", outcome: "transient" })).toBe(1);
    expect(moved(before, after, "notify_channel_send_seconds_count", { channel: "email", outcome: "permanent" })).toBe(1);
  });

  it("shows JetStream backlog per durable, local state, process metrics and roles", async () => {
    const P = stack.prefix.toUpperCase();
    const s = await eventually(async () => {
      const x = await metrics();
      return x.some((m) => m.name === "notify_consumer_pending_messages" && m.labels.durable === "deliver-email") ? x : undefined;
    });
    expect(sumOf(s, "notify_consumer_pending_messages", { stream: `${P}_WORK`, durable: "planner" })).toBe(0);
    expect(s.some((m) => m.name === "notify_consumer_redelivered_messages" && m.labels.durable === "deliver-email")).toBe(true);
    expect(s.some((m) => m.name === "notify_stream_messages" && m.labels.stream === `${P}_DLQ`)).toBe(true);
    expect(sumOf(s, "notify_consumer_paused", { consumer: "deliver-email" })).toBe(0);
    expect(s.filter((m) => m.name === "notify_dependency_state" && m.labels.channel === "email").length).toBeGreaterThan(0);
    expect(sumOf(s, "notify_process_roles", { role: "worker" })).toBe(1);
    expect(s.some((m) => m.name === "nodejs_eventloop_lag_seconds")).toBe(true);
    expect(s.some((m) => m.name === "process_resident_memory_bytes")).toBe(true);
  });

  it("shows the progress of campaign runs fanning out", async () => {
    const c = await mysql.createConnection(stack.dbUrl);
    try {
      // A run as the fan-out leaves it mid-way (only the counters matter to the gauge).
      await c.query("INSERT INTO campaign_runs (campaign_id, occurrence_at, time_zones, status, cursor_state, audience_total, planned, published) VALUES (42, NOW(3), '', 2, '', 1000, 300, 250)");
      const s = await eventually(async () => {
        const x = await metrics();
        return sumOf(x, "notify_campaign_run_progress", { campaign: "42", stage: "planned" }) === 300 ? x : undefined;
      });
      expect(sumOf(s, "notify_campaign_run_progress", { campaign: "42", stage: "audience" })).toBe(1000);
      expect(sumOf(s, "notify_campaign_run_progress", { campaign: "42", stage: "published" })).toBe(250);
      await c.query("UPDATE campaign_runs SET status = 3 WHERE campaign_id = 42");
      await eventually(async () => !(await metrics()).some((m) => m.name === "notify_campaign_run_progress"));
    } finally {
      await c.end();
    }
  });

  it("keeps a second node in the same process on its own registry", async () => {
    const other = await stack.startNode("api");
    try {
      const s = await scrape(`${other.httpUrl}/metrics`);
      expect(sumOf(s, "notify_deliveries_sent_total")).toBe(0);
      expect(sumOf(s, "notify_process_roles", { role: "worker" })).toBe(0);
      expect(sumOf(s, "notify_process_roles", { role: "api" })).toBe(1);
      expect(sumOf(await metrics(), "notify_deliveries_sent_total")).toBeGreaterThan(0);
    } finally {
      await other.stop();
    }
  });
});
