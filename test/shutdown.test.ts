import { afterAll, beforeAll, expect, it } from "vitest";
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { createDb, type Db } from "../internal/store/db.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";

// Graceful shutdown of a real notifyd process: SIGTERM stops pulling, lets sends in flight finish
// within NOTIFY_SHUTDOWN_GRACE, hands the rest back to the broker and exits 0.

let stack: TestStack;
let api: TestNode;
let db: Db;
let client: ReturnType<typeof createConnectClient<typeof NotificationService>>;

const send = (key: string, n: number) =>
  client.sendBatch({
    items: Array.from({ length: n }, (_, i) => ({
      idempotencyKey: `${key}-${i}`,
      template: "plain",
      recipients: [{ target: { case: "email" as const, value: `${key}${i}@example.test` } }],
      data: { subject: `${key} ${i}`, body: "b" },
    })),
  });

async function ledger(key: string) {
  const [[r]] = (await db.query(
    `SELECT SUM(d.status = 3) AS sent, SUM(d.status = 2) AS sending, COALESCE(SUM(d.resent_after_uncertain), 0) AS uncertain
     FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE n.idempotency_key LIKE ?`,
    [`${key}-%`],
  )) as unknown as [{ sent: number; sending: number; uncertain: number }[]];
  return { sent: Number(r.sent), sending: Number(r.sending), uncertain: Number(r.uncertain) };
}

beforeAll(async () => {
  stack = await startTestStack("shutdown", {
    users: 5,
    env: { NOTIFY_LEASE: "3s", NOTIFY_ACK_WAIT: "2s", NOTIFY_SMTP_POOL: "4", NOTIFY_RETRY_BACKOFF: "500ms,1s,2s,4s" },
  });
  api = await stack.startNode("api,relay,planner");
  client = createConnectClient(NotificationService, { baseUrl: api.grpcUrl, apiKey: stack.apiKey });
  db = createDb({ url: stack.dbUrl, poolSize: 2 });
});

afterAll(async () => {
  await db?.end();
  await stack?.close();
});

it("SIGTERM drains a worker: in-flight sends finish, the process exits 0, nothing is lost or sent twice", async () => {
  stack.sink.setMode({ kind: "slow", delayMs: 100 });
  const worker = stack.spawnNode("worker", { NOTIFY_WORKER_BATCH: "8", NOTIFY_SHUTDOWN_GRACE: "8s" });
  await worker.waitForLine("notifyd started", 60_000);
  await send("drain", 150);
  await stack.sink.waitForMessages(20, 30_000);
  const t0 = Date.now();
  worker.kill("SIGTERM");
  const exit = await worker.exited;
  expect(exit).toEqual({ code: 0, signal: null });
  expect(Date.now() - t0).toBeLessThan(8000);
  expect(worker.lines.some((l) => l.json?.msg === "stopped")).toBe(true);
  // Everything it started, it finished and recorded.
  expect((await ledger("drain")).sending).toBe(0);
  const before = stack.sink.messages().length;
  expect(before).toBeLessThan(150);

  const next = await stack.startNode("worker");
  try {
    await stack.sink.waitForMessages(150, 60_000);
    await eventually(async () => (await ledger("drain")).sent === 150, 20_000);
    expect(stack.sink.duplicates()).toEqual([]);
    expect((await ledger("drain")).uncertain).toBe(0);
  } finally {
    await next.stop();
  }
});

it("sends slower than the grace period are handed back; the process still exits 0 and any resend is counted", async () => {
  stack.sink.reset();
  stack.sink.setMode({ kind: "slow", delayMs: 2500 });
  const worker = stack.spawnNode("worker", { NOTIFY_WORKER_BATCH: "8", NOTIFY_SHUTDOWN_GRACE: "1s" });
  await worker.waitForLine("notifyd started", 60_000);
  await send("cut", 40);
  // Sends are under way (the sink holds each for 2.5 s before answering).
  await eventually(async () => stack.sink.stats().transactions >= 4, 30_000);
  worker.kill("SIGTERM");
  const exit = await worker.exited;
  expect(exit).toEqual({ code: 0, signal: null });
  expect(worker.lines.some((l) => typeof l.json?.handedBack === "number" && (l.json.handedBack as number) > 0)).toBe(true);

  stack.sink.setMode({ kind: "ok" });
  const next = await stack.startNode("worker");
  try {
    await eventually(async () => (await ledger("cut")).sent === 40, 60_000);
    const unique = new Set(stack.sink.uniqueMessageIds());
    expect(unique.size).toBe(40);
    const dups = stack.sink.duplicates().reduce((n, d) => n + d.count - 1, 0);
    expect(dups).toBeLessThanOrEqual((await ledger("cut")).uncertain);
  } finally {
    await next.stop();
  }
});
