// bench:instant — the whole instant path (Send over gRPC -> planner -> worker -> SMTP) against its raw
// baseline (one process: nodemailer pool -> the same SMTP sink), in one run. Prints a table.
import mysql from "mysql2/promise";
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { createGrpcClient } from "../internal/rpc/grpc-client.js";
import { generateKey } from "../internal/auth/api-keys.js";
import { dropDatabase, ensureDatabase } from "../internal/store/db.js";
import { migrate } from "../internal/store/migrate.js";
import { freePort, freePorts } from "../test/harness/ports.js";
import { spawnNode } from "../test/harness/processes.js";
import { deleteStreams } from "../test/harness/platform.js";
import { callers, steadyRate } from "./lib/load.js";
import { startCountingSink } from "./lib/sink.js";
import { nodemailerBaseline, platformMail, type RawMail } from "./lib/raw-mail.js";
import { dbStatements, formatCounts, formatStages, perUnit, stageLatencies } from "./lib/db-counters.js";
import { cpuMs, cpuMsOf, percentile, pidsNamed, table, waitForQuiet } from "./lib/stats.js";
import { dbUrlFor, mariadbTransport } from "./lib/mariadb.js";

// 8,000: a saturation run of a few seconds; at 3,000 (about 2 s) the ratio of the same code moved by ±0.1 between runs.
const N = Number(process.env.BENCH_N ?? 8000);
const RATE = Number(process.env.BENCH_RATE ?? 200);
const RATE_SECONDS = Number(process.env.BENCH_RATE_SECONDS ?? 10);
const CONCURRENCY = 64;
const WARM = 1000;
const BATCHES = 10;
// The API process plans its own single Sends (planner/handoff.ts); the relay and the workers run beside.
const ROLES = process.env.BENCH_ROLES ?? "api,planner;relay,worker";
/** A directory: each notifyd writes a V8 CPU profile there (node --cpu-prof). */
const PROF = process.env.BENCH_PROF;
/**
 * How the load calls Send. grpc-js (default): the @grpc/grpc-js stub internal callers use; connect (or
 * connect-grpc): @connectrpc/connect-node's gRPC transport. Both are gRPC to notifyd's default gRPC
 * listener (grpc-js). Beside it every run measures ALT: the Connect protocol over h2c to an API process
 * whose gRPC port connect-node serves (NOTIFY_GRPC_SERVER=connect), the cheapest wire before grpc-js.
 */
type Wire = "grpc-js" | "connect-grpc" | "connect-h2";
const wireName: Record<Wire, string> = {
  "grpc-js": "gRPC (grpc-js client) to grpc-js",
  "connect-grpc": "gRPC (connect-node client) to grpc-js",
  "connect-h2": "Connect protocol, HTTP/2, to connect-node",
};
const WIRE = ((w) => {
  const wire = w === "connect" ? "connect-grpc" : w;
  if (wire !== "grpc-js" && wire !== "connect-grpc") throw new Error(`BENCH_CLIENT=${w}: expected one of grpc-js, connect, connect-grpc`);
  return wire as Wire;
})(process.env.BENCH_CLIENT ?? "grpc-js");
const ALT: Wire = "connect-h2";
/** Which server a wire's calls reach. */
const serverOf = (w: Wire) => (w === "connect-h2" ? "connect" : "grpc-js");

const body = (i: number) => ({
  subject: `Bench ${i}`,
  body: `Hello, this is message ${i}. Your tickets for tonight are ready; enjoy the film and the popcorn.`,
});

/** The bench's own short message (no layout), the baseline of reports before session 12. */
const shortMail: RawMail = (i) => {
  const b = body(i);
  return { subject: b.subject, text: b.body, html: `<html><body><p>${b.body}</p></body></html>` };
};

// Warmed like the platform (JIT, pool connections), so the ratio compares steady states.
const baseline = (content: RawMail, tag: string) => nodemailerBaseline({ content, n: N, warm: WARM, concurrency: CONCURRENCY, tag });

/** The ingest baseline: durable single-row INSERT commits from 64 concurrent callers, as Send does. */
async function insertBaseline(dbUrl: string) {
  const pool = mysql.createPool({ uri: dbUrl, connectionLimit: 32 });
  await pool.query("CREATE TABLE bench_insert (id BIGINT AUTO_INCREMENT PRIMARY KEY, k VARCHAR(64), payload TEXT)");
  const { rate } = await steadyRate(N, CONCURRENCY, (i, round) =>
    pool.execute("INSERT INTO bench_insert (k, payload) VALUES (?, ?)", [`k${round}-${i}`, "x".repeat(200)]),
  );
  await pool.query("DROP TABLE bench_insert");
  await pool.end();
  return rate;
}

function clientFor(port: number, apiKey: string, wire: Wire) {
  const baseUrl = `http://127.0.0.1:${port}`;
  if (wire === "connect-grpc") return createConnectClient(NotificationService, { baseUrl, apiKey });
  if (wire === "connect-h2") return createConnectClient(NotificationService, { baseUrl, apiKey, protocol: "connect", httpVersion: "2" });
  return createGrpcClient(NotificationService, `127.0.0.1:${port}`, { metadata: { authorization: `Bearer ${apiKey}` } });
}

const sendWith = (client: ReturnType<typeof clientFor>) => (tag: string, i: number) =>
  client.send({
    idempotencyKey: `${tag}-${i}`,
    template: "plain",
    recipients: [{ target: { case: "email", value: `p${i}@example.test` } }],
    data: { ...body(i), subject: `${tag} ${i}` },
  });

/**
 * The RPC layer's floor: the same Sends from the same client to a server whose handler only answers
 * (bench/lib/rpc-floor-server.ts). Calls/s, and the server's CPU per call.
 */
async function rpcFloor(wire: Wire, server: "grpc-js" | "connect" = serverOf(wire)) {
  const port = await freePort();
  const env = { RPC_FLOOR_PORT: String(port), RPC_FLOOR_SERVER: server };
  const srv = spawnNode("bench/lib/rpc-floor-server.ts", [], env, { name: "rpc-floor" });
  try {
    await srv.waitForLine((l) => l.json?.msg === "rpc floor listening", 30_000);
    const send = sendWith(clientFor(port, "floor", wire));
    // A fresh process: timed once its JIT has settled, so the floor is not a cold start's.
    let cpu0 = 0;
    const { rate } = await steadyRate(N, CONCURRENCY, (i, round) => send(`floor${round}`, i), { beforeRound: () => (cpu0 = cpuMs(srv.pid)) });
    return { rate, serverCpuPerCall: (cpuMs(srv.pid) - cpu0) / N };
  } finally {
    await srv.stop({ timeoutMs: 5_000 });
  }
}

async function pipeline() {
  // The platform's first messages (its warm-up) are kept: the same-message baseline sends them again.
  const sink = await startCountingSink({ keep: 500 });
  const name = `bench_instant_${Date.now().toString(36)}`;
  const dbUrl = dbUrlFor(name);
  await ensureDatabase(dbUrl);
  await migrate(dbUrl);
  const insertRate = await insertBaseline(dbUrl);
  const floor = await rpcFloor(WIRE);
  const floorAlt = await rpcFloor(ALT);
  // What the gRPC listener cost before grpc-js served it: the same gRPC calls to connect-node.
  const floorConnectGrpc = await rpcFloor(WIRE, "connect");
  const apiKey = generateKey();
  // BENCH_ROLES: process groups separated by ";" (e.g. "api;relay,planner,worker"), one notifyd each.
  const groups = ROLES.split(";").map((g) => g.trim()).filter(Boolean);
  // One more API process (with its planner when the API has one, but no worker: it must not take the
  // others' deliveries), connect-node on its gRPC port, for the ALT wire.
  const apiGroup = groups.find((g) => g.split(",").includes("api")) ?? groups[0];
  const altRoles = apiGroup.split(",").filter((r) => r === "api" || r === "planner").join(",") || "api";
  const specs = [...groups.map((roles) => ({ roles, server: "grpc-js" })), { roles: altRoles, server: "connect" }];
  const nodes: { roles: string; server: string; grpcPort: number; proc: ReturnType<typeof spawnNode> }[] = [];
  // Chosen in one call, so no two processes get the same port (each picked alone, a later pick could
  // return one an earlier process had not bound yet: a run once lost a notifyd to EADDRINUSE).
  const ports = await freePorts(2 * specs.length);
  for (const [i, { roles, server }] of specs.entries()) {
    const [grpcPort, httpPort] = [ports[2 * i], ports[2 * i + 1]];
    const proc = spawnNode(
      "cmd/notifyd/main.ts",
      [],
      {
        NOTIFY_ROLES: roles,
        NOTIFY_GRPC_SERVER: server,
        NOTIFY_DB_URL: dbUrl,
        NOTIFY_NATS_PREFIX: name.replace(/_/g, ""),
        NOTIFY_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
        NOTIFY_HTTP_ADDR: `127.0.0.1:${httpPort}`,
        NOTIFY_SMTP_URL: sink.url,
        NOTIFY_SMTP_RATE: "100000",
        NOTIFY_SMTP_POOL: "4",
        NOTIFY_WORKER_BATCH: "256",
        NOTIFY_BOOTSTRAP_API_KEY: apiKey,
        NOTIFY_MIGRATE_ON_START: "false",
        NOTIFY_LOG_LEVEL: "info",
      },
      { name: `notifyd-bench-${i}`, logFile: true, nodeArgs: PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : [] },
    );
    nodes.push({ roles, server, grpcPort, proc });
  }
  const apiNode = nodes.find((n) => n.roles === apiGroup && n.server === "grpc-js") ?? nodes[0];
  const altNode = nodes[nodes.length - 1];
  const label = (n: (typeof nodes)[number]) => `notifyd[${n.roles}${n.server === "connect" ? ", connect-node gRPC port" : ""}]`;
  const services = { mariadb: pidsNamed("mariadbd"), nats: pidsNamed("nats-server") };
  const cpuNow = () => ({
    ...Object.fromEntries(nodes.map((n) => [label(n), cpuMs(n.proc.pid)])),
    mariadbd: cpuMsOf(services.mariadb),
    "nats-server": cpuMsOf(services.nats),
    "bench (load + sink)": (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  });
  try {
    for (const n of nodes) await n.proc.waitForLine("notifyd started", 60_000);
    const client = clientFor(apiNode.grpcPort, apiKey, WIRE);
    const send = sendWith(client);
    const sendAlt = sendWith(clientFor(altNode.grpcPort, apiKey, ALT));
    // Warm up over both wires at full concurrency (JIT, pools, template cache), so neither saturation
    // run below pays for the other's warming.
    await callers(WARM, CONCURRENCY, (i) => send("warm", i));
    await callers(WARM, CONCURRENCY, (i) => sendAlt("warmalt", i));
    let delivered = 2 * WARM;
    await sink.waitFor(delivered, 60_000);

    // Saturation: as fast as 64 callers can send.
    const q0 = await dbStatements(dbUrl);
    const cpu0 = cpuNow();
    const t0 = performance.now();
    await callers(N, CONCURRENCY, (i) => send("sat", i));
    const acceptSecs = (performance.now() - t0) / 1000;
    await sink.waitFor((delivered += N), 120_000);
    const secs = (performance.now() - t0) / 1000;
    const cpu1 = cpuNow();
    const q1 = await dbStatements(dbUrl);
    const statements = perUnit(q0, q1, N);
    const cpuBy = Object.fromEntries(Object.entries(cpu1).map(([k, v]) => [k, (v - cpu0[k as keyof typeof cpu0]) / N]));
    const cpu = nodes.reduce((a, n) => a + cpuBy[label(n)], 0) * N;

    // The same saturation with the Connect protocol to connect-node: only the RPC layer differs.
    const notifydCpu = () => nodes.reduce((a, n) => a + cpuMs(n.proc.pid), 0);
    const cpuA = notifydCpu();
    const tA = performance.now();
    await callers(N, CONCURRENCY, (i) => sendAlt("satalt", i));
    await sink.waitFor((delivered += N), 120_000);
    const rateAlt = N / ((performance.now() - tA) / 1000);
    const cpuAlt = (notifydCpu() - cpuA) / N;

    // SendBatch: rows accepted per second, 500 per call, one caller, timed once warm like the other
    // ingest runs (rounds of BATCHES calls until two agree). Six calls timed once lasted about 0.2 s
    // and moved between 0.52 and 0.93 of the INSERT rate from run to run.
    const sendBatches = async (tag: string): Promise<{ rate: number; rows: number }> => {
      const r = await steadyRate(BATCHES, 1, (b, round) =>
        client.sendBatch({
          items: Array.from({ length: 500 }, (_, j) => ({
            idempotencyKey: `${tag}-${round}-${b}-${j}`,
            template: "plain",
            recipients: [{ target: { case: "email" as const, value: `q${round}-${b}-${j}@example.test` } }],
            data: body(j),
          })),
        }),
      );
      return { rate: r.rate * 500, rows: r.rounds * BATCHES * 500 };
    };

    // Ingest alone: the other processes are stopped (SIGSTOP) so the Sends do not share the cores with
    // delivering; the accepted work waits in the outbox and leaves when they continue.
    const others = nodes.filter((n) => n !== apiNode && n !== altNode);
    let ingestCalls = 0;
    const ingestAlone = async (tag: string, fn: typeof send, node: (typeof nodes)[number]) => {
      let c0 = 0;
      const r = await steadyRate(N, CONCURRENCY, (i, round) => fn(`${tag}${round}`, i), { beforeRound: () => (c0 = cpuMs(node.proc.pid)) });
      ingestCalls += r.rounds * N;
      return { rate: r.rate, cpuPerCall: (cpuMs(node.proc.pid) - c0) / N };
    };
    let ingest = { rate: NaN, cpuPerCall: NaN };
    let ingestAlt = ingest;
    let batchAlone = { rate: NaN, rows: 0 };
    if (others.length > 0) {
      for (const n of others) process.kill(n.proc.pid, "SIGSTOP");
      try {
        ingest = await ingestAlone("ingest", send, apiNode);
        ingestAlt = await ingestAlone("ingestalt", sendAlt, altNode);
        batchAlone = await sendBatches("batchalone");
      } finally {
        for (const n of others) process.kill(n.proc.pid, "SIGCONT");
      }
      await sink.waitFor((delivered += ingestCalls + batchAlone.rows), 180_000);
    }

    const batch = await sendBatches("batch");
    await sink.waitFor((delivered += batch.rows), 120_000);

    // Latency at a fixed offered rate: the target's 200/s, and half the rate this run saturated at
    // (where the path's own latency shows rather than a queue's).
    const latencyAt = async (rate: number, tag: string) => {
      const total = Math.max(20, Math.round(rate * RATE_SECONDS));
      const started = new Map<string, number>();
      const tStart = performance.now();
      const inflight: Promise<unknown>[] = [];
      for (let i = 0; i < total; i++) {
        const due = tStart + (i * 1000) / rate;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        started.set(`${tag} ${i}`, performance.now());
        inflight.push(send(tag, i));
      }
      await Promise.all(inflight);
      delivered += total;
      await sink.waitFor(delivered, 180_000);
      const lat = [...started].map(([s, t]) => (sink.arrivals.get(s) ?? NaN) - t).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
      return { rate, p50: percentile(lat, 50), p99: percentile(lat, 99) };
    };
    // The saturation runs leave MariaDB purging for a few seconds: the latencies below are the path's at
    // a steady rate, not that backlog's.
    const settled = await waitForQuiet({ seconds: 2, maxSeconds: 30 });
    const halfRate = Math.max(5, Math.round(N / secs / 2));
    const half = await latencyAt(halfRate, "half");
    const lat = await latencyAt(RATE, "lat");
    const stages = await stageLatencies(dbUrl, "lat %");
    return {
      rate: N / secs,
      acceptRate: N / acceptSecs,
      cpuPerMsg: cpu / N,
      p50: lat.p50,
      p99: lat.p99,
      stages,
      half,
      duplicates: sink.duplicates(),
      kept: sink.kept(),
      bytesPerMsg: sink.bytes() / sink.count(),
      settled,
      insertRate,
      floor,
      floorAlt,
      floorConnectGrpc,
      ingest,
      ingestAlt,
      rateAlt,
      cpuAlt,
      batchRows: batch.rate,
      batchAlone: batchAlone.rate,
      cpuBy,
      statements,
    };
  } finally {
    await Promise.all(nodes.map((n) => n.proc.stop({ timeoutMs: 15_000 })));
    await sink.close();
    await dropDatabase(dbUrl).catch(() => undefined);
    await deleteStreams(name.replace(/_/g, "")).catch(() => undefined);
  }
}

const baseShort = await baseline(shortMail, "short");
const pipe = await pipeline();
const base = await baseline(await platformMail(pipe.kept), "same");
const rows = [
  { scenario: "raw: nodemailer pool -> sink (1 process), the platform's messages", "msgs/s": base.rate, "cpu ms/msg": base.cpuPerMsg, "p50 ms": "", "p99 ms": "" },
  { scenario: "raw: the same, the bench's short message (reports before session 12)", "msgs/s": baseShort.rate, "cpu ms/msg": baseShort.cpuPerMsg, "p50 ms": "", "p99 ms": "" },
  {
    scenario: `platform: Send, ${wireName[WIRE]} -> SMTP sink; latency at ${RATE}/s offered`,
    "msgs/s": pipe.rate,
    "cpu ms/msg": pipe.cpuPerMsg,
    "p50 ms": pipe.p50,
    "p99 ms": pipe.p99,
  },
  { scenario: `platform: Send, ${wireName[ALT]} -> SMTP sink`, "msgs/s": pipe.rateAlt, "cpu ms/msg": pipe.cpuAlt, "p50 ms": "", "p99 ms": "" },
  {
    scenario: `platform: latency at ${pipe.half.rate}/s offered (half of saturation)`,
    "msgs/s": "",
    "cpu ms/msg": "",
    "p50 ms": pipe.half.p50,
    "p99 ms": pipe.half.p99,
  },
];
process.stdout.write(`\nbench:instant  N=${N}, latency at ${RATE}/s offered for ${RATE_SECONDS}s; MariaDB over ${mariadbTransport}\n\n${table(rows)}\n\n`);
process.stdout.write(
  `cost at saturation, CPU ms per delivered email by process:\n\n${table(
    Object.entries(pipe.cpuBy).map(([process, ms]) => ({ process, "cpu ms/msg": ms })),
  )}\n\n`,
);
process.stdout.write(
  `latency at ${RATE}/s by stage (ledger clocks, ms): ${formatStages(pipe.stages)}; the latency runs started after ${pipe.settled} s of waiting for a quiet machine\n\n`,
);
process.stdout.write(
  `MariaDB statements per delivered email at saturation: ${formatCounts(pipe.statements)}\n\n`,
);
const r2 = (a: number, b: number) => (a / b).toFixed(2);
process.stdout.write(
  `${table([
    { scenario: "raw: mysql2 single-row INSERT commits, 64 callers", "rows/s": pipe.insertRate, "server cpu ms/call": "" },
    { scenario: `floor: Send to a handler that only answers, ${wireName[WIRE]}`, "rows/s": pipe.floor.rate, "server cpu ms/call": pipe.floor.serverCpuPerCall },
    { scenario: `floor: the same, ${wireName[ALT]}`, "rows/s": pipe.floorAlt.rate, "server cpu ms/call": pipe.floorAlt.serverCpuPerCall },
    { scenario: "floor: the same, gRPC to connect-node (the gRPC listener before grpc-js)", "rows/s": pipe.floorConnectGrpc.rate, "server cpu ms/call": pipe.floorConnectGrpc.serverCpuPerCall },
    { scenario: `platform: accepted Sends/s (committed), while delivering, ${wireName[WIRE]}`, "rows/s": pipe.acceptRate, "server cpu ms/call": "" },
    { scenario: `platform: accepted Sends/s (committed), api process alone, ${wireName[WIRE]}`, "rows/s": pipe.ingest.rate, "server cpu ms/call": pipe.ingest.cpuPerCall },
    { scenario: `platform: the same, ${wireName[ALT]}`, "rows/s": pipe.ingestAlt.rate, "server cpu ms/call": pipe.ingestAlt.cpuPerCall },
    { scenario: "platform: SendBatch rows/s (500 per call, one caller), api process alone", "rows/s": pipe.batchAlone, "server cpu ms/call": "" },
    { scenario: "platform: SendBatch rows/s (500 per call, one caller), while delivering", "rows/s": pipe.batchRows, "server cpu ms/call": "" },
  ])}\n\n` +
    `ingest ratio Send/INSERT (64 callers, api alone) = ${r2(pipe.ingest.rate, pipe.insertRate)} over ${wireName[WIRE]}, ${r2(pipe.ingestAlt.rate, pipe.insertRate)} over ${wireName[ALT]}; ` +
    `${r2(pipe.acceptRate, pipe.insertRate)} while delivering; SendBatch/INSERT = ${r2(pipe.batchAlone, pipe.insertRate)} with the api alone, ${r2(pipe.batchRows, pipe.insertRate)} while delivering (target >= 0.8)\n` +
    `the RPC floor alone reaches ${r2(pipe.floor.rate, pipe.insertRate)} / ${r2(pipe.floorAlt.rate, pipe.insertRate)} of INSERT; Send reaches ${r2(pipe.ingest.rate, pipe.floor.rate)} / ${r2(pipe.ingestAlt.rate, pipe.floorAlt.rate)} of its floor\n\n`,
);
process.stdout.write(
  `ratio platform/raw = ${r2(pipe.rate, base.rate)} over ${wireName[WIRE]}, ${r2(pipe.rateAlt, base.rate)} over ${wireName[ALT]} against the same messages (target >= 0.8); ` +
    `${r2(pipe.rate, baseShort.rate)} / ${r2(pipe.rateAlt, baseShort.rate)} against the short message; ` +
    `p99 = ${pipe.p99.toFixed(1)} ms (target < 50); duplicates at sink = ${pipe.duplicates}\n` +
    `message size at the sink: ${pipe.bytesPerMsg.toFixed(0)} bytes on average from the platform, ${base.bytesPerMsg.toFixed(0)} from the same-message baseline, ${baseShort.bytesPerMsg.toFixed(0)} from the short one\n` +
    `cpu ms/msg for the platform counts the notifyd processes only (${ROLES}); the sink and the load run in the bench process.\n`,
);
process.exit(0);
