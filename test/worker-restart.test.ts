import { afterAll, beforeAll, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { CampaignService } from "../gen/notify/v1/campaign_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { eventually, startTestStack, type TestStack } from "./harness/platform.js";

let stack: TestStack;

beforeAll(async () => {
  // Short crash-detection timers so a killed worker's messages come back within seconds.
  stack = await startTestStack("restart", {
    users: 600,
    env: { NOTIFY_ACK_WAIT: "2s", NOTIFY_LEASE: "2s", NOTIFY_SMTP_RATE: "200", NOTIFY_CAMPAIGN_POLL: "200ms" },
  });
});

afterAll(async () => {
  await stack?.close();
});

it("a worker process SIGKILLed mid-stream loses nothing, and any resend is counted", async () => {
  const api = await stack.startNode("api,relay,planner");
  const client = createConnectClient(NotificationService, { baseUrl: api.grpcUrl, apiKey: stack.apiKey });
  const N = 600;
  let worker = stack.spawnNode("worker");
  await worker.waitForLine("notifyd started", 30_000);
  const items = Array.from({ length: N }, (_, i) => ({
    idempotencyKey: `restart-${i}`,
    template: "plain",
    recipients: [{ target: { case: "email" as const, value: `r${i}@example.test` } }],
    data: { subject: `Restart ${i}`, body: "b" },
  }));
  await client.sendBatch({ items: items.slice(0, 300) });
  await client.sendBatch({ items: items.slice(300) });
  await eventually(async () => stack.sink.messages().length >= 100, 30_000, 20);
  worker.kill("SIGKILL");
  await worker.exited;
  const atKill = stack.sink.uniqueMessageIds().length;
  expect(atKill).toBeLessThan(N);
  worker = stack.spawnNode("worker");
  await eventually(async () => stack.sink.uniqueMessageIds().length >= N, 60_000, 100);

  const c = await mysql.createConnection(stack.dbUrl);
  try {
    const [rows] = (await c.query(
      "SELECT SUM(status = 3) AS sent, SUM(resent_after_uncertain) AS uncertain FROM deliveries",
    )) as unknown as [{ sent: string; uncertain: string }[]];
    await eventually(async () => {
      const [r] = (await c.query("SELECT COUNT(*) AS n FROM deliveries WHERE status = 3")) as unknown as [{ n: number }[]];
      return Number(r[0].n) === N;
    }, 20_000);
    const dups = stack.sink.duplicates().reduce((a, d) => a + d.count - 1, 0);
    expect(stack.sink.uniqueMessageIds().length).toBe(N);
    expect(dups).toBeLessThanOrEqual(Number(rows[0].uncertain ?? 0));
  } finally {
    await c.end();
    await worker.stop();
  }
});

it("a worker SIGKILLed in the middle of a campaign's chunks loses nothing, and any resend is counted", async () => {
  stack.sink.reset();
  const api = await stack.startNode("api,relay,planner,scheduler");
  const campaigns = createConnectClient(CampaignService, { baseUrl: api.grpcUrl, apiKey: stack.apiKey });
  const N = 600;
  let worker = stack.spawnNode("worker");
  await worker.waitForLine("notifyd started", 30_000);
  const { campaign } = await campaigns.create({
    spec: {
      name: "restart",
      template: "plain",
      channels: ["email"],
      audience: { kind: { case: "all", value: true } },
      schedule: { kind: { case: "now", value: true } },
      rate: 10_000,
      data: { subject: "Chunked", body: "b" },
    },
  });
  await campaigns.schedule({ campaignId: campaign!.id });
  // At 200 mails/s the worker is killed with most of the chunks still under way or waiting.
  await eventually(async () => stack.sink.messages().length >= 100, 30_000, 20);
  worker.kill("SIGKILL");
  await worker.exited;
  expect(stack.sink.uniqueMessageIds().length).toBeLessThan(N);
  worker = stack.spawnNode("worker");
  try {
    await eventually(async () => stack.sink.uniqueMessageIds().length >= N, 60_000, 100);
    const c = await mysql.createConnection(stack.dbUrl);
    try {
      const q = () =>
        c.query(
          `SELECT SUM(d.status = 3) AS sent, SUM(d.resent_after_uncertain) AS uncertain FROM deliveries d
             JOIN notifications n ON n.id = d.notification_id WHERE n.campaign_id = ?`,
          [campaign!.id],
        ) as unknown as Promise<[{ sent: string; uncertain: string }[]]>;
      const [[row]] = await eventually(async () => {
        const r = await q();
        return Number(r[0][0].sent) === N ? r : undefined;
      }, 20_000);
      const dups = stack.sink.duplicates().reduce((a, d) => a + d.count - 1, 0);
      expect(stack.sink.uniqueMessageIds().length).toBe(N);
      expect(new Set(stack.sink.messages().flatMap((m) => m.envelopeTo)).size).toBe(N);
      expect(dups).toBeLessThanOrEqual(Number(row.uncertain ?? 0));
    } finally {
      await c.end();
    }
  } finally {
    await worker.stop();
    await api.stop();
  }
}, 120_000);
