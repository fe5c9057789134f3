import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { createDb, type Db } from "../internal/store/db.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";
import { startSmtpSink, type SmtpSink } from "./harness/smtp-sink.js";

// Circuit breakers against a real stack: 3 relay-level failures within 5 s open a breaker, probes run
// every 300 ms, and after recovery the send rate climbs from 10% to 100% of 40 mails/s over 4 s.
const RATE = 40;

let stack: TestStack;
let db: Db;
let fallback: SmtpSink;

const ENV = {
  NOTIFY_SMTP_RATE: String(RATE),
  NOTIFY_BREAKER_THRESHOLD: "3",
  NOTIFY_BREAKER_WINDOW: "5s",
  NOTIFY_BREAKER_PROBE: "300ms",
  NOTIFY_RAMP_DURATION: "4s",
  NOTIFY_RAMP_START_PERCENT: "10",
  NOTIFY_RETRY_BACKOFF: "1s,2s,4s",
  NOTIFY_WORKER_BATCH: "32",
};

type Ready = { ready: boolean; checks: { breakers: Record<string, { state: string }>; consumers: Record<string, string> } };
const readyz = async (node: TestNode) => (await (await fetch(`${node.httpUrl}/readyz`)).json()) as Ready;

async function ledger(key: string) {
  const [[r]] = (await db.query(
    `SELECT COUNT(*) AS n, SUM(d.status = 3) AS sent, SUM(d.status = 8) AS dead, COALESCE(SUM(d.attempts), 0) AS attempts, MAX(d.attempts) AS maxAttempts
     FROM deliveries d JOIN notifications n ON n.id = d.notification_id WHERE n.idempotency_key LIKE ?`,
    [`${key}-%`],
  )) as unknown as [{ n: number; sent: number; dead: number; attempts: number; maxAttempts: number }[]];
  return { n: Number(r.n), sent: Number(r.sent), dead: Number(r.dead), attempts: Number(r.attempts), maxAttempts: Number(r.maxAttempts) };
}

const batch = (key: string, n: number, to: (i: number) => { case: "email" | "userId"; value: string }) => ({
  items: Array.from({ length: n }, (_, i) => ({
    idempotencyKey: `${key}-${i}`,
    template: "plain",
    channels: ["email"],
    recipients: [{ target: to(i) }],
    data: { subject: `${key} ${i}`, body: "b" },
  })),
});

beforeAll(async () => {
  stack = await startTestStack("breaker", { users: 60, env: ENV });
  fallback = await startSmtpSink();
  db = createDb({ url: stack.dbUrl, poolSize: 2 });
});

afterAll(async () => {
  await db?.end();
  await fallback?.close();
  await stack?.close();
});

describe("circuit breakers", () => {
  it("an SMTP outage opens the breaker and pauses the consumer without burning attempts; after recovery the rate ramps up", async () => {
    const node = await stack.startNode("api,relay,planner,worker");
    try {
      const client = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
      stack.sink.setMode({ kind: "tempfail", code: 421 });
      const N = 160;
      await client.sendBatch(batch("outage", N, (i) => ({ case: "email", value: `o${i}@example.test` })));
      const open = await eventually(async () => {
        const r = await readyz(node);
        return r.checks.breakers["email.smtp:primary"]?.state === "open" && r.checks.consumers["deliver-email"] === "paused" ? r : undefined;
      });
      expect(open.ready).toBe(true);

      // Paused: the backlog waits in the stream and no attempt is spent on it. Attempts claimed just
      // before the breaker opened (waiting for a connection, or for a claim batch on a busy machine)
      // finish first: the count must have settled before the window starts.
      let before = await ledger("outage");
      for (let i = 0; i < 10; i++) {
        await new Promise((r) => setTimeout(r, 500));
        const again = await ledger("outage");
        if (again.attempts === before.attempts) break;
        before = again;
      }
      await new Promise((r) => setTimeout(r, 2000));
      const during = await ledger("outage");
      expect(during.attempts).toBe(before.attempts);
      expect(during.maxAttempts).toBeLessThanOrEqual(2);
      // Deliveries planned together travel in chunks (internal/delivery/chunks.ts): count both consumers' work.
      let waiting = 0;
      for (const durable of ["deliver-email", "deliver-email-chunks"]) {
        const info = await node.ctx.bus.jsm.consumers.info(node.ctx.topology.streams.work, durable);
        waiting += info.num_pending + info.num_ack_pending;
      }
      expect(waiting).toBeGreaterThan(0);
      expect(before.n - before.sent).toBeGreaterThan(N / 2);

      stack.sink.setMode({ kind: "ok" });
      await eventually(async () => (await readyz(node)).checks.consumers["deliver-email"] === "running", 10_000);
      await stack.sink.waitForMessages(N, 60_000);
      const after = await eventually(async () => {
        const l = await ledger("outage");
        return l.sent === N ? l : undefined;
      });
      expect(after).toMatchObject({ n: N, sent: N, dead: 0 });
      expect(stack.sink.duplicates()).toEqual([]);

      // Mails per second from the first one after recovery: about 10% of the rate at first, then more.
      const times = stack.sink.messages().map((m) => m.receivedAt).sort((a, b) => a - b);
      const perSecond: number[] = [];
      for (const t of times) perSecond[Math.floor((t - times[0]) / 1000)] = (perSecond[Math.floor((t - times[0]) / 1000)] ?? 0) + 1;
      // Seconds without a mail are holes in perSecond; map() would skip them.
      const full = Array.from(perSecond, (n) => n ?? 0);
      const shape = `mails per second after recovery: ${full.join(" ")}`;
      // The ramp starts at 10% with half a second of burst: nothing queued during the outage goes out unpaced.
      expect(full[0], shape).toBeLessThanOrEqual(RATE * 0.2);
      expect(Math.max(...full), shape).toBeGreaterThanOrEqual(RATE * 0.6);
      expect(full[0], shape).toBeLessThan(Math.max(...full) / 2);
    } finally {
      await node.stop();
    }
  });

  it("while the primary relay's breaker is open, mail goes through the fallback relay", async () => {
    stack.sink.reset();
    const node = await stack.startNode("api,relay,planner,worker", { NOTIFY_SMTP_FALLBACK_URL: fallback.url });
    try {
      const client = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
      stack.sink.setMode({ kind: "tempfail", code: 421 });
      const N = 50;
      await client.sendBatch(batch("failover", N, (i) => ({ case: "email", value: `f${i}@example.test` })));
      await fallback.waitForMessages(N, 30_000);
      expect(stack.sink.messages()).toHaveLength(0);
      expect(fallback.duplicates()).toEqual([]);
      await eventually(async () => (await ledger("failover")).sent === N);
      expect(await ledger("failover")).toMatchObject({ n: N, sent: N, dead: 0 });
      const r = await readyz(node);
      expect(r.checks.breakers["email.smtp:primary"].state).toBe("open");
      expect(r.checks.breakers["email.smtp:fallback"].state).toBe("closed");
      expect(r.checks.consumers["deliver-email"]).toBe("running");

      // The primary comes back: the probe closes its breaker and mail goes its way again.
      stack.sink.setMode({ kind: "ok" });
      await eventually(async () => (await readyz(node)).checks.breakers["email.smtp:primary"].state === "closed", 10_000);
      await client.sendBatch(batch("failback", 5, (i) => ({ case: "email", value: `b${i}@example.test` })));
      await stack.sink.waitForMessages(5, 20_000);
      expect(fallback.messages()).toHaveLength(N);
    } finally {
      await node.stop();
    }
  });

  it("a user-service outage opens its breaker and pauses delivery until it is back; nothing dies", async () => {
    stack.sink.reset();
    const node = await stack.startNode("api,relay,planner,worker");
    try {
      const client = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
      stack.usersDemo.control.setFaults({ latencyMs: 0, errorRate: 0, down: true });
      const N = 40;
      await client.sendBatch(batch("users", N, (i) => ({ case: "userId", value: `u${i + 1}` })));
      await eventually(async () => {
        const r = await readyz(node);
        return r.checks.breakers.users?.state === "open" && r.checks.consumers["deliver-email"] === "paused";
      });
      await new Promise((r) => setTimeout(r, 1500));
      expect(stack.sink.messages()).toHaveLength(0);
      stack.usersDemo.control.setFaults({ latencyMs: 0, errorRate: 0, down: false });
      await stack.sink.waitForMessages(N, 30_000);
      const l = await eventually(async () => {
        const x = await ledger("users");
        return x.sent === N ? x : undefined;
      });
      expect(l).toMatchObject({ n: N, sent: N, dead: 0 });
      expect(l.maxAttempts).toBeLessThanOrEqual(2);
      expect(stack.sink.duplicates()).toEqual([]);
    } finally {
      await node.stop();
    }
  });
});
