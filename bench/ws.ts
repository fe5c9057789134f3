// bench:ws — the websocket gateway against its raw baseline, in one run:
//   * RSS per idle connection: a gateway-only notifyd process holding BENCH_WS_CONNS connections, and a
//     bare `ws` server process holding as many;
//   * Send -> client receive latency at BENCH_WS_RATE notifications/s: Send (gRPC) -> relay -> planner ->
//     websocket worker (inbox row + core NATS) -> gateway process -> client; the baseline pushes the
//     same frames straight from the bare server.
// Every process is separate (users-demo, pipeline notifyd, gateway notifyd, raw server); the clients
// run in this process. Prints a table (docs/websocket.md keeps the latest one).
import { SignJWT } from "jose";
import { connect as natsConnect } from "nats";
import WebSocket from "ws";
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { generateKey } from "../internal/auth/api-keys.js";
import { createTopology } from "../internal/bus/topology.js";
import { createGrpcClient } from "../internal/rpc/grpc-client.js";
import { dropDatabase, ensureDatabase } from "../internal/store/db.js";
import { deleteStreams } from "../test/harness/platform.js";
import { migrate } from "../internal/store/migrate.js";
import { freePorts } from "../test/harness/ports.js";
import { spawnNode, type ManagedProcess } from "../test/harness/processes.js";
import { loadavg } from "node:os";
import { callers } from "./lib/load.js";
import { cpuMs, cpuMsOf, percentile, pidsNamed, rssKiB, table } from "./lib/stats.js";
import { dbStatements, formatCounts, formatStages, perUnit, stageLatencies } from "./lib/db-counters.js";
import { dbUrlFor, mariadbTransport } from "./lib/mariadb.js";

const CONNS = Number(process.env.BENCH_WS_CONNS ?? 5000);
const RATE = Number(process.env.BENCH_WS_RATE ?? 200);
const SECONDS = Number(process.env.BENCH_WS_SECONDS ?? 10);
/** Seconds of warm-up at RATE before the timed window. */
const WARM_SECONDS = Number(process.env.BENCH_WS_WARM_SECONDS ?? 3);
/** Clients acknowledge each notification, as the site's script does (ack -> delivered in the ledger). */
const ACK = (process.env.BENCH_WS_ACK ?? "1") !== "0";
/** The pipeline's processes: role groups separated by ";" (one notifyd process each). */
const PIPELINE = process.env.BENCH_WS_PIPELINE ?? "api,relay,planner,worker";
/**
 * A locale for every Send ("en"): the site names the reader's locale, so the worker needs nothing from
 * the user service (the `plain` template has ru and en). Unset: each user's own, looked up per delivery.
 */
const LOCALE = process.env.BENCH_WS_LOCALE ?? "";
/** A directory: each pipeline notifyd writes a V8 CPU profile there (node --cpu-prof). */
const PROF = process.env.BENCH_PROF;
const SECRET = "bench-ws-secret-0123456789abcdefghijklmnop";
const TITLE = /"title":"(?:bench|warm) (\d+)"/;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const body = "Your tickets for tonight are ready. Doors open at 19:30; enjoy the film and the popcorn.";

/** The frame the websocket channel publishes, for the baselines. */
const frame = (i: number) =>
  JSON.stringify({
    type: "notification",
    notification: { id: crypto.randomUUID(), notificationId: crypto.randomUUID(), category: "transactional", template: "plain", title: `bench ${i}`, body, createdAt: new Date().toISOString() },
  });

/** Opens CONNS clients; onFrame sees every text frame with the receive time. */
async function openClients(url: (i: number) => string, headers: (i: number) => Promise<Record<string, string>>, onFrame: (i: number, text: string, at: number, ws: WebSocket) => void) {
  const clients: WebSocket[] = new Array(CONNS);
  await callers(CONNS, 100, async (i) => {
    const ws = new WebSocket(url(i), { headers: await headers(i), perMessageDeflate: false });
    ws.on("message", (data) => onFrame(i, data.toString(), performance.now(), ws));
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
      ws.once("unexpected-response", (_q, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    clients[i] = ws;
  });
  return clients;
}

async function closeClients(clients: WebSocket[]) {
  for (const ws of clients) ws?.terminate();
  await sleep(500);
}

/** Offers `total` pushes at RATE/s; push(i, user) starts one and records its start time. */
async function paced(total: number, push: (i: number, user: number) => unknown, started: number[]) {
  const t0 = performance.now();
  const pending: unknown[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    started[i] = performance.now();
    pending.push(push(i, 1 + Math.floor(Math.random() * CONNS)));
  }
  await Promise.all(pending);
}

async function waitFor(cond: () => boolean, timeoutMs: number) {
  const end = Date.now() + timeoutMs;
  while (!cond() && Date.now() < end) await sleep(50);
}

function latencies(started: number[], got: Map<number, number>) {
  const lat = started.map((t, i) => (got.get(i) ?? NaN) - t).filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1], lost: started.length - lat.length };
}

async function measureRss(pid: number, open: () => Promise<WebSocket[]>) {
  await sleep(1000);
  const before = rssKiB(pid);
  const clients = await open();
  // Idle means idle: V8's memory reducer collects the handshakes' garbage a few seconds after the
  // burst, so RSS is sampled for 12 s and the settled (lowest) value is taken, for both servers.
  let after = Infinity;
  for (let i = 0; i < 12; i++) {
    await sleep(1000);
    after = Math.min(after, rssKiB(pid));
  }
  return { clients, before, after, perConnKiB: (after - before) / CONNS };
}

async function raw() {
  const [port] = await freePorts(1);
  const srv = spawnNode("bench/lib/ws-raw-server.ts", [], { RAW_WS_PORT: String(port) }, { name: "raw-ws" });
  try {
    await srv.waitForLine((l) => l.json?.msg === "raw ws listening", 30_000);
    const got = new Map<number, number>();
    const rss = await measureRss(srv.pid, () =>
      openClients(
        (i) => `ws://127.0.0.1:${port}/?u=u${i + 1}`,
        async () => ({}),
        (_i, text, at) => {
          const m = TITLE.exec(text);
          if (m) got.set(Number(m[1]), at);
        },
      ),
    );
    const control = new WebSocket(`ws://127.0.0.1:${port}/control`);
    await new Promise((r) => control.once("open", r));
    const total = RATE * SECONDS;
    const started: number[] = [];
    const cpu0 = cpuMs(srv.pid);
    await paced(total, (i, u) => control.send(`u${u}\n${frame(i)}`), started);
    await waitFor(() => got.size >= total, 10_000);
    const cpu = (cpuMs(srv.pid) - cpu0) / total;
    control.close();
    await closeClients(rss.clients);
    return { ...rss, ...latencies(started, got), rssTotal: rss.after, cpu: `server ${cpu.toFixed(2)}` };
  } finally {
    await srv.stop({ timeoutMs: 5000 });
  }
}

async function platform() {
  const name = `bench_ws_${Date.now().toString(36)}`;
  const dbUrl = dbUrlFor(name);
  const usersDbUrl = dbUrlFor(`${name}_users`);
  await ensureDatabase(dbUrl);
  await migrate(dbUrl);
  const [usersPort, grpcPort, httpPort, wsPort] = await freePorts(4);
  const apiKey = generateKey();
  const procs: ManagedProcess[] = [];
  try {
    const users = spawnNode("cmd/users-demo/main.ts", [], { USERS_DEMO_DB_URL: usersDbUrl, USERS_DEMO_ADDR: `127.0.0.1:${usersPort}`, USERS_DEMO_USERS: String(CONNS) }, { name: "users-demo-bench" });
    procs.push(users);
    await users.waitForLine("users-demo listening", 120_000);
    const env = {
      NOTIFY_DB_URL: dbUrl,
      NOTIFY_NATS_PREFIX: name.replace(/_/g, ""),
      NOTIFY_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
      NOTIFY_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      NOTIFY_USERS_ADDR: `127.0.0.1:${usersPort}`,
      NOTIFY_BOOTSTRAP_API_KEY: apiKey,
      NOTIFY_MIGRATE_ON_START: "false",
      NOTIFY_JWT_SECRET: SECRET,
      NOTIFY_LOG_LEVEL: "info",
    };
    // One after the other: first starts create bootstrap rows (API key, first admin) once.
    const pipeline: ManagedProcess[] = [];
    for (const roles of PIPELINE.split(";")) {
      const p = spawnNode("cmd/notifyd/main.ts", [], { ...env, NOTIFY_ROLES: roles }, {
        name: `notifyd-${roles.replace(/,/g, "-")}`,
        logFile: true,
        nodeArgs: PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : [],
      });
      procs.push(p);
      pipeline.push(p);
      await p.waitForLine("notifyd started", 60_000);
    }
    const pipelineCpu = () => pipeline.reduce((a, p) => a + cpuMs(p.pid), 0);
    const gateway = spawnNode("cmd/notifyd/main.ts", [], { ...env, NOTIFY_ROLES: "gateway", NOTIFY_WS_ADDR: `127.0.0.1:${wsPort}` }, { name: "notifyd-gateway", logFile: true });
    procs.push(gateway);
    await gateway.waitForLine("notifyd started", 60_000);

    const key = new TextEncoder().encode(SECRET);
    const exp = Math.floor(Date.now() / 1000) + 3600;
    const got = new Map<number, number>();
    let hellos = 0;
    let ack = ACK;
    const rss = await measureRss(gateway.pid, () =>
      openClients(
        () => `ws://127.0.0.1:${wsPort}/ws`,
        async (i) => ({ authorization: `Bearer ${await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(`u${i + 1}`).setExpirationTime(exp).sign(key)}` }),
        (_i, text, at, ws) => {
          if (text.startsWith('{"type":"hello"')) {
            hellos++;
            return;
          }
          const m = TITLE.exec(text);
          if (!m) return;
          got.set(Number(m[1]), at);
          if (ack) ws.send(JSON.stringify({ type: "ack", ids: [JSON.parse(text).notification.id] }));
        },
      ),
    );
    await waitFor(() => hellos >= CONNS, 30_000);

    // The @grpc/grpc-js stub internal callers use (as bench:instant): cheaper for the load generator
    // than connect-node's transport, and the load shares the two cores with what it measures.
    const client = createGrpcClient(NotificationService, `127.0.0.1:${grpcPort}`, { metadata: { authorization: `Bearer ${apiKey}` } });
    const send = (i: number, u: number, subject = "bench") =>
      client.send({
        idempotencyKey: `ws-${i}`,
        template: "plain",
        channels: ["websocket"],
        recipients: [{ target: { case: "userId", value: `u${u}` } }],
        data: { subject: `${subject} ${i}`, body },
        locale: LOCALE,
      });
    // Warm-up (JIT, pools, template cache) at the measured rate, so the timed window starts in the
    // steady state it measures; then forget those receipts. (A burst of 300 at 16 concurrent calls, the
    // earlier warm-up, left the machine a second and a half of backlog that the window then measured.)
    const warm = Math.max(300, WARM_SECONDS * RATE);
    await paced(warm, (i, u) => send(1_000_000 + i, u, "warm"), []);
    await waitFor(() => got.size >= warm, 30_000);
    got.clear();

    const total = RATE * SECONDS;
    const started: number[] = [];
    // Every process on the two cores, so the report names where the machine's time goes at this rate.
    const services = { mariadbd: pidsNamed("mariadbd"), "nats-server": pidsNamed("nats-server") };
    const everyone = () => ({
      pipeline: pipelineCpu(),
      gateway: cpuMs(gateway.pid),
      "users-demo": cpuMs(users.pid),
      mariadbd: cpuMsOf(services.mariadbd),
      "nats-server": cpuMsOf(services["nats-server"]),
      "bench (5,000 clients + load)": (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    });
    const [q0, e0, w0] = [await dbStatements(dbUrl), everyone(), performance.now()];
    await paced(total, (i, u) => send(i, u), started);
    await waitFor(() => got.size >= total, 30_000);
    // Acks land a moment after the frame; their receipts belong to this window's statements.
    if (ack) await sleep(1000);
    const [q1, e1, w1] = [await dbStatements(dbUrl), everyone(), performance.now()];
    const cost = Object.entries(e1).map(([process, ms]) => ({
      process,
      "cpu ms/notification": (ms - e0[process as keyof typeof e0]) / total,
      "% of one core": ((ms - e0[process as keyof typeof e0]) / (w1 - w0)) * 100,
    }));
    const lat = latencies(started, got);
    // The window's p99 second by second: a steady tail and a burst read the same in one p99.
    const bySecond = Array.from({ length: SECONDS }, (_, sec) => {
      const idx = started.map((_t, i) => i).filter((i) => Math.floor((i * 1000) / RATE / 1000) === sec);
      return latencies(idx.map((i) => started[i]), new Map(idx.map((i, k) => [k, got.get(i) ?? NaN]))).p99;
    });
    const stages = await stageLatencies(dbUrl, "bench %");

    // The gateway's own hop: the same frames published straight on the users' subjects, as the
    // websocket channel does, without the pipeline in front (no acks: these items are not in the inbox).
    ack = false;
    got.clear();
    const nc = await natsConnect({ servers: process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222" });
    const topo = createTopology(env.NOTIFY_NATS_PREFIX);
    const hopStarted: number[] = [];
    const g2 = cpuMs(gateway.pid);
    await paced(total, (i, u) => nc.publish(topo.subjects.wsUser(`u${u}`), frame(i)), hopStarted);
    await waitFor(() => got.size >= total, 30_000);
    const hop = { ...latencies(hopStarted, got), cpu: `gateway ${((cpuMs(gateway.pid) - g2) / total).toFixed(2)}` };
    await nc.close();
    await closeClients(rss.clients);
    return {
      ...rss,
      ...lat,
      rssTotal: rss.after,
      cpu: `pipeline ${((e1.pipeline - e0.pipeline) / total).toFixed(2)}, gateway ${((e1.gateway - e0.gateway) / total).toFixed(2)}`,
      statements: perUnit(q0, q1, total),
      stages,
      bySecond,
      cost,
      hop,
    };
  } finally {
    for (const p of procs.reverse()) await p.stop({ timeoutMs: 15_000 }).catch(() => undefined);
    if (!process.env.BENCH_KEEP) await dropDatabase(dbUrl).catch(() => undefined);
    if (!process.env.BENCH_KEEP) await dropDatabase(usersDbUrl).catch(() => undefined);
    if (!process.env.BENCH_KEEP) await deleteStreams(name.replace(/_/g, "")).catch(() => undefined);
  }
}

const load0 = loadavg()[0];
const rawR = await raw();
const gw = await platform();
const mib = (k: number) => `${(k / 1024).toFixed(0)} MiB`;
const rows = [
  {
    scenario: "raw: bare ws server pushes the frame",
    conns: CONNS,
    "RSS before -> after": `${mib(rawR.before)} -> ${mib(rawR.rssTotal)}`,
    "KiB/conn": rawR.perConnKiB,
    "p50 ms": rawR.p50,
    "p99 ms": rawR.p99,
    "max ms": rawR.max,
    lost: rawR.lost,
    "cpu ms/notification": rawR.cpu,
  },
  {
    scenario: "platform: Send -> pipeline -> gateway -> client",
    conns: CONNS,
    "RSS before -> after": `${mib(gw.before)} -> ${mib(gw.rssTotal)}`,
    "KiB/conn": gw.perConnKiB,
    "p50 ms": gw.p50,
    "p99 ms": gw.p99,
    "max ms": gw.max,
    lost: gw.lost,
    "cpu ms/notification": gw.cpu,
  },
  {
    scenario: "gateway hop: NATS publish -> gateway -> client",
    conns: CONNS,
    "RSS before -> after": "(same gateway)",
    "KiB/conn": "",
    "p50 ms": gw.hop.p50,
    "p99 ms": gw.hop.p99,
    "max ms": gw.hop.max,
    lost: gw.hop.lost,
    "cpu ms/notification": gw.hop.cpu,
  },
];
process.stdout.write(
  `\nbench:ws  ${CONNS} connections, ${RATE} notifications/s for ${SECONDS}s, clients ack: ${ACK}; locale: ${LOCALE || "each user's (looked up)"}; pipeline processes: ${PIPELINE}; MariaDB over ${mariadbTransport}; ` +
    `machine load average ${load0.toFixed(1)} at start, ${loadavg()[0].toFixed(1)} at end (2 cores)\n\n${table(rows)}\n\n`,
);
process.stdout.write(
  `targets: < 20 KiB per idle connection (gateway: ${gw.perConnKiB.toFixed(1)}), p99 < 100 ms (platform: ${gw.p99.toFixed(1)}); ` +
    `RSS is the gateway-only notifyd process (the pipeline runs in another process).\n` +
    `latency at ${RATE}/s by stage (ledger clocks, ms): ${formatStages(gw.stages)}\n` +
    `p99 of each second of the window (ms): ${gw.bySecond.map((v) => v.toFixed(0)).join(" ")}\n` +
    `MariaDB statements per notification at ${RATE}/s (pipeline and receipts): ${formatCounts(gw.statements)}\n\n` +
    `CPU by process over the platform's timed window (Send -> client, acks included):\n\n${table(gw.cost)}\n` +
    `machine: ${gw.cost.reduce((a, c) => a + c["% of one core"], 0).toFixed(0)}% of 200% busy with these processes\n`,
);
process.exit(0);
