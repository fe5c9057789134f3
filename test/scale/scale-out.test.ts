import mysql from "mysql2/promise";
import { connect } from "nats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NotificationService } from "../../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../../internal/rpc/connect-client.js";
import { createTopology } from "../../internal/bus/topology.js";
import type { ManagedProcess } from "../harness/processes.js";
import { NATS, startTestStack, type TestStack } from "../harness/platform.js";
import { scrape, sumOf } from "./prom-text.js";

// The scaled topology as real processes on one machine: two API processes, two worker processes and
// one relay+planner, all started at the same moment against a fresh NATS prefix and database (so
// streams and consumers are created by whichever gets there first), then 1,000 Sends spread over
// both APIs. Every mail arrives exactly once and both workers share the work.
const N = 1000;
let stack: TestStack;
const procs: Record<string, ManagedProcess> = {};
const addr: Record<string, string> = {};
const metricsAddr: Record<string, string> = {};

/** The address a process logged at start ("api listening" / "metrics listening"). */
async function listening(p: ManagedProcess, msg: string, field: string): Promise<string> {
  const line = await p.waitForLine((l) => l.json?.msg === msg, 60_000);
  return String(line.json![field]);
}

beforeAll(async () => {
  stack = await startTestStack("scale", {
    users: 10,
    env: { NOTIFY_LOG_LEVEL: "info", NOTIFY_DB_POOL: "16", NOTIFY_SMTP_RATE: "5000", NOTIFY_RELAY_POLL: "100ms" },
  });
  const metricsOnly = { NOTIFY_METRICS_ADDR: "127.0.0.1:0" };
  // All at once: no process is given a head start to create the streams.
  procs.api1 = stack.spawnNode("api");
  procs.api2 = stack.spawnNode("api");
  procs.worker1 = stack.spawnNode("worker", metricsOnly);
  procs.worker2 = stack.spawnNode("worker", metricsOnly);
  procs.relay = stack.spawnNode("relay,planner", metricsOnly);
  const [a1, a2, w1, w2, r] = await Promise.all([
    listening(procs.api1, "api listening", "grpc"),
    listening(procs.api2, "api listening", "grpc"),
    listening(procs.worker1, "metrics listening", "address"),
    listening(procs.worker2, "metrics listening", "address"),
    listening(procs.relay, "metrics listening", "address"),
  ]);
  Object.assign(addr, { api1: a1, api2: a2, worker1: w1, worker2: w2, relay: r });
  // The API processes' metrics are on their HTTP listener.
  metricsAddr.api1 = await listening(procs.api1, "api listening", "http");
  metricsAddr.api2 = await listening(procs.api2, "api listening", "http");
  await Promise.all(Object.values(procs).map((p) => p.waitForLine((l) => l.json?.msg === "notifyd started", 60_000)));
}, 120_000);

afterAll(async () => {
  await stack?.close();
});

describe("running at scale", () => {
  it("five processes started at once created the streams and consumers exactly once, as configured", async () => {
    for (const p of Object.values(procs)) expect(p.running).toBe(true);
    const t = createTopology(stack.prefix);
    const nc = await connect({ servers: NATS });
    try {
      const jsm = await nc.jetstreamManager();
      const work = await jsm.streams.info(t.streams.work);
      expect(work.config.subjects.sort()).toEqual([t.subjects.deliverAll, t.subjects.requests].sort());
      expect(work.config.retention).toBe("workqueue");
      const names: string[] = [];
      for await (const c of jsm.consumers.list(t.streams.work)) names.push(c.name);
      expect(names).toEqual(expect.arrayContaining([t.consumers.planner, t.consumers.deliver("email")]));
      expect(new Set(names).size).toBe(names.length);
      await jsm.streams.info(t.streams.dlq);
      await jsm.streams.info(t.streams.events);
    } finally {
      await nc.close();
    }
    // Nobody tripped over another process creating the same thing (stderr also carries the one-time
    // first-admin notice, which is not an error).
    for (const p of Object.values(procs)) {
      const bad = p.lines.filter((l) => Number(l.json?.level) >= 50 || (l.stream === "stderr" && /error|exception|already in use/i.test(l.text)));
      expect(bad.map((l) => l.text)).toEqual([]);
    }
  });

  it(`delivers ${N} Sends spread over two APIs exactly once, with both workers doing part of the work`, async () => {
    const clients = [addr.api1, addr.api2].map((a) => createConnectClient(NotificationService, { baseUrl: `http://${a}`, apiKey: stack.apiKey }));
    let next = 0;
    const sendAll = async () => {
      for (let i = next++; i < N; i = next++) {
        await clients[i % 2].send({
          idempotencyKey: `scale-${i}`,
          template: "plain",
          recipients: [{ target: { case: "email", value: `s${i}@example.test` } }],
          data: { subject: `Scale ${i}`, body: "Hello" },
        });
      }
    };
    await Promise.all(Array.from({ length: 16 }, sendAll));

    // Generous: the machine may be shared with other test runs.
    await stack.sink.waitForMessages(N, 180_000);
    // Late duplicates would arrive after the last first copy; give them a moment.
    await new Promise((r) => setTimeout(r, 1500));
    expect(stack.sink.uniqueMessageIds()).toHaveLength(N);
    expect(stack.sink.duplicates()).toEqual([]);
    expect(stack.sink.messages()).toHaveLength(N);

    const db = await mysql.createConnection(stack.dbUrl);
    try {
      const [rows] = (await db.query("SELECT status, COUNT(*) AS n FROM deliveries GROUP BY status")) as unknown as [{ status: number; n: number }[]];
      expect(rows.map((r) => [r.status, Number(r.n)])).toEqual([[3, N]]);
    } finally {
      await db.end();
    }

    const targets = { ...addr, ...metricsAddr };
    const m = Object.fromEntries(await Promise.all(Object.entries(targets).map(async ([k, a]) => [k, await scrape(`http://${a}/metrics`)] as const)));
    const accepted = [m.api1, m.api2].map((s) => sumOf(s, "notify_notifications_accepted_total"));
    expect(accepted).toEqual([N / 2, N / 2]);
    const sent = [m.worker1, m.worker2].map((s) => sumOf(s, "notify_deliveries_sent_total", { channel: "email" }));
    expect(sent[0] + sent[1]).toBe(N);
    expect(sent[0]).toBeGreaterThan(0);
    expect(sent[1]).toBeGreaterThan(0);
    expect(sumOf(m.relay, "notify_outbox_published_total")).toBe(N);
    expect(sumOf(m.relay, "notify_deliveries_published_total", { channel: "email" })).toBe(N);
    // The API processes neither plan nor send.
    expect(sumOf(m.api1, "notify_deliveries_sent_total")).toBe(0);
  }, 240_000);
});
