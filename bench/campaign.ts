// bench:campaign — a personalised campaign to 100,000 users (users-demo -> notifyd fan-out -> workers ->
// SMTP sink) against its raw baseline (nodemailer pool straight to the same sink), in one run:
// messages/s and their ratio, peak RSS of notifyd for 10,000 vs 100,000 recipients, the user
// service's peak concurrency / calls per second / batch size against the configured caps, and the
// broker publish rate against the campaign's rate. Prints a table.
import { connect } from "nats";
import { CampaignService, RunStatus } from "../gen/notify/v1/campaign_service_pb.js";
import { generateKey } from "../internal/auth/api-keys.js";
import { chunkSize } from "../internal/delivery/chunks.js";
import { DemoAdminService } from "../gen/cinema/users/v1/demo_admin_service_pb.js";
import { createGrpcClient } from "../internal/rpc/grpc-client.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { dropDatabase, ensureDatabase } from "../internal/store/db.js";
import { deleteStreams } from "../test/harness/platform.js";
import { migrate } from "../internal/store/migrate.js";
import { freePort, freePorts } from "../test/harness/ports.js";
import { spawnNode, type ManagedProcess } from "../test/harness/processes.js";
import { startCountingSink, type CountingSink } from "./lib/sink.js";
import { nodemailerBaseline, platformMail, type RawMail } from "./lib/raw-mail.js";
import { cpuMs, cpuMsOf, pidsNamed, rssKiB, table } from "./lib/stats.js";
import { dbStatements, formatCounts, perUnit } from "./lib/db-counters.js";
import { dbUrlFor, mariadbTransport } from "./lib/mariadb.js";

const BIG = Number(process.env.BENCH_N ?? 100_000);
const SMALL = Number(process.env.BENCH_SMALL_N ?? 10_000);
const RAW_N = Number(process.env.BENCH_RAW_N ?? 20_000);
const PACED_RATE = Number(process.env.BENCH_RATE ?? 1000);
const CAPS = { rate: 200, concurrency: 8, batch: 100 };
/**
 * notifyd processes with the worker role beside the one that runs the campaign (which has all roles):
 * on two cores the platform scales out this way, and the one-process baseline has no second process.
 * 0 measures the single process.
 */
const EXTRA_WORKERS = Number(process.env.BENCH_CAMPAIGN_WORKERS ?? 1);
const NATS = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";
/** A directory: each notifyd writes a V8 CPU profile there (node --cpu-prof). */
const PROF = process.env.BENCH_PROF;
const nodeArgs = PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : [];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The bench's own short message, the baseline of reports before session 12. */
const shortMail: RawMail = (i) => ({
  subject: `Happy birthday, User ${i}!`,
  text: `Happy birthday, User ${i}!\n\nThe whole Cinema Online team wishes you a wonderful day.`,
  html: `<html><body><h1>Happy birthday, User ${i}!</h1><p>The whole Cinema Online team wishes you a wonderful day.</p></body></html>`,
});

// Warmed with 1,000 mails first: its 20,000 amortise a cold start less than 100,000 do.
const baseline = (content: RawMail, tag: string) => nodemailerBaseline({ content, n: RAW_N, warm: 1000, concurrency: 64, tag });

interface Env {
  dbUrl: string;
  prefix: string;
  apiKey: string;
  usersAddr: string;
  sink: CountingSink;
}

function notifydEnv(e: Env, extra: Record<string, string>): Record<string, string> {
  return {
    NOTIFY_DB_URL: e.dbUrl,
    NOTIFY_NATS_URL: NATS,
    NOTIFY_NATS_PREFIX: e.prefix,
    NOTIFY_SMTP_URL: e.sink.url,
    NOTIFY_SMTP_RATE: "100000",
    NOTIFY_SMTP_POOL: "4",
    NOTIFY_WORKER_BATCH: "256",
    NOTIFY_USERS_ADDR: e.usersAddr,
    NOTIFY_USERS_RATE: String(CAPS.rate),
    NOTIFY_USERS_CONCURRENCY: String(CAPS.concurrency),
    NOTIFY_USERS_BATCH: String(CAPS.batch),
    NOTIFY_CAMPAIGN_POLL: "200ms",
    NOTIFY_BOOTSTRAP_API_KEY: e.apiKey,
    NOTIFY_MIGRATE_ON_START: "false",
    NOTIFY_LOG_LEVEL: "warn",
    NOTIFY_ROLES: "api,relay,planner,worker,scheduler",
    ...extra,
  };
}

async function startNotifyd(e: Env, extra: Record<string, string> = {}): Promise<{ proc: ManagedProcess; url: string }> {
  const [grpcPort, httpPort] = await freePorts(2);
  const proc = spawnNode(
    "cmd/notifyd/main.ts",
    [],
    notifydEnv(e, { NOTIFY_GRPC_ADDR: `127.0.0.1:${grpcPort}`, NOTIFY_HTTP_ADDR: `127.0.0.1:${httpPort}`, ...extra }),
    { name: "notifyd-bench-campaign", logFile: true, nodeArgs },
  );
  const url = `http://127.0.0.1:${grpcPort}`;
  // At warn level the start line is not logged: the health probe says when the API listens.
  for (let i = 0; ; i++) {
    const ok = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 300 || !proc.running) throw new Error(`notifyd did not start:\n${proc.tail(20)}`);
    await sleep(200);
  }
  return { proc, url };
}

/** Runs one campaign to completion; samples RSS, the publish rate on the broker, and sink arrivals. */
async function runCampaign(e: Env, o: { name: string; n: number; rate: number; ids?: number; unlimitedBacklog?: boolean; countPublishes?: boolean }) {
  // The paced run measures the token bucket alone: its backlog limit is lifted so slower workers do not
  // hold publishing back (the limit is what the big run shows).
  const { proc, url } = await startNotifyd(e, o.unlimitedBacklog ? { NOTIFY_CAMPAIGN_MAX_BACKLOG: String(o.n + 1) } : {});
  const workers: ManagedProcess[] = [];
  for (let i = 0; i < EXTRA_WORKERS; i++) {
    const w = spawnNode("cmd/notifyd/main.ts", [], notifydEnv(e, { NOTIFY_ROLES: "worker", NOTIFY_LOG_LEVEL: "info" }), { name: `notifyd-bench-worker-${i + 1}`, logFile: true, nodeArgs });
    workers.push(w);
    await w.waitForLine("notifyd started", 60_000);
  }
  const processCpu = () => cpuMs(proc.pid) + workers.reduce((a, w) => a + cpuMs(w.pid), 0);
  // The cost of a campaign email beyond notifyd: everything else on the two cores, by process.
  const services = { mariadb: pidsNamed("mariadbd"), nats: pidsNamed("nats-server") };
  const costNow = () => ({
    notifyd: processCpu(),
    mariadbd: cpuMsOf(services.mariadb),
    "nats-server": cpuMsOf(services.nats),
    "users-demo": users ? cpuMs(users.pid) : 0,
    "bench (the sink)": (process.cpuUsage().user + process.cpuUsage().system) / 1000,
  });
  const client = createConnectClient(CampaignService, { baseUrl: url, apiKey: e.apiKey });
  const nc = await connect({ servers: NATS });
  // Counting publishes takes a copy of every delivery message (the broker's work and this process's):
  // only the run that checks the publish rate pays for it.
  const publishes: number[] = [];
  // A chunk (internal/delivery/chunks.ts) counts as the deliveries it carries.
  const sub = o.countPublishes
    ? nc.subscribe(`${e.prefix}.deliver.>`, {
        callback: (_err, m) => {
          const n = m.subject.endsWith(".email.chunks") ? chunkSize(m) : m.subject.endsWith(".email") ? 1 : 0;
          for (let i = 0; i < n; i++) publishes.push(performance.now());
        },
      })
    : undefined;
  try {
    const audience = o.ids ? { kind: { case: "userIds" as const, value: true } } : { kind: { case: "all" as const, value: true } };
    const { campaign } = await client.create({
      spec: { name: o.name, template: "birthday", channels: ["email"], audience, schedule: { kind: { case: "now", value: true } }, rate: o.rate },
    });
    const id = campaign!.id;
    for (let i = 0; o.ids && i < o.ids; i += 10_000) {
      await client.appendAudience({ campaignId: id, userIds: Array.from({ length: Math.min(10_000, o.ids - i) }, (_, k) => `u${i + k + 1}`) });
    }
    const sent0 = e.sink.count();
    const bytes0 = e.sink.bytes();
    let peakRss = rssKiB(proc.pid);
    const cpu0 = processCpu();
    const cost0 = costNow();
    const q0 = await dbStatements(e.dbUrl);
    const t0 = performance.now();
    await client.schedule({ campaignId: id });
    const timer = setInterval(() => {
      try {
        peakRss = Math.max(peakRss, rssKiB(proc.pid));
      } catch {
        // process gone
      }
    }, 250);
    await e.sink.waitFor(sent0 + o.n, 30 * 60_000);
    const secs = (performance.now() - t0) / 1000;
    const bytesPerMsg = (e.sink.bytes() - bytes0) / (e.sink.count() - sent0);
    clearInterval(timer);
    const cpu = processCpu() - cpu0;
    const cost1 = costNow();
    const statements = perUnit(q0, await dbStatements(e.dbUrl), o.n);
    // The ledger records "sent" in batches just after the sink has the mail: wait for the run's counters to settle.
    let g = await client.get({ campaignId: id });
    for (let i = 0; i < 50 && Number(g.runs[0]?.sent ?? 0) < o.n; i++) {
      await new Promise((r) => setTimeout(r, 100));
      g = await client.get({ campaignId: id });
    }
    // Publish rate over the middle of the run (the first and last second carry start-up and tail).
    const first = publishes[0];
    const last = publishes.at(-1)!;
    const mid = publishes.filter((t) => t > first + 1000 && t < last - 1000);
    const pubRate = !sub ? NaN : mid.length > 1 ? (mid.length - 1) / ((mid.at(-1)! - mid[0]) / 1000) : publishes.length / ((last - first) / 1000);
    return {
      secs,
      rate: o.n / secs,
      cpuPerMsg: cpu / o.n,
      bytesPerMsg,
      peakRssMiB: peakRss / 1024,
      pubRate,
      published: publishes.length,
      run: g.runs[0],
      cost: Object.fromEntries(Object.entries(cost1).map(([k, v]) => [k, (v - cost0[k as keyof typeof cost0]) / o.n])),
      statements,
    };
  } finally {
    sub?.unsubscribe();
    await nc.close();
    for (const w of workers) await w.stop({ timeoutMs: 20_000 });
    await proc.stop({ timeoutMs: 20_000 });
  }
}

const name = `bench_campaign_${Date.now().toString(36)}`;
const env: Env = {
  dbUrl: dbUrlFor(name),
  prefix: name.replace(/_/g, ""),
  apiKey: generateKey(),
  usersAddr: "",
  // The first campaign's first messages are kept: the same-message baseline sends them again.
  sink: await startCountingSink({ keep: 500 }),
};
const usersDb = dbUrlFor(`${name}_users`);
// users-demo runs as its own process, so the sink and the user service do not share an event loop.
const usersAddr = `127.0.0.1:${await freePort()}`;
let users: ManagedProcess | undefined;
const admin = createGrpcClient(DemoAdminService, usersAddr, { timeoutMs: 10_000 });
try {
  process.stdout.write(`raw baseline: ${RAW_N} mails (the bench's short message)...\n`);
  const rawShort = await baseline(shortMail, "short");
  process.stdout.write(`seeding ${BIG} users...\n`);
  users = spawnNode("cmd/users-demo/main.ts", [], { USERS_DEMO_DB_URL: usersDb, USERS_DEMO_ADDR: usersAddr, USERS_DEMO_USERS: String(BIG) }, { name: "users-demo-bench", logFile: true, nodeArgs });
  await users.waitForLine("users-demo listening", 10 * 60_000);
  env.usersAddr = usersAddr;
  await ensureDatabase(env.dbUrl);
  await migrate(env.dbUrl);

  process.stdout.write(`campaign to ${SMALL} (id list) at ${PACED_RATE}/s...\n`);
  await admin.resetStats({});
  const small = await runCampaign(env, { name: "small", n: SMALL, rate: PACED_RATE, ids: SMALL, unlimitedBacklog: true, countPublishes: true });
  const smallStats = await admin.getStats({});

  process.stdout.write(`raw baseline: ${RAW_N} mails (the messages the platform sent)...\n`);
  const raw = await baseline(await platformMail(env.sink.kept()), "same");

  // Memory is compared between runs that differ only in size: the paced run above lifts the backlog
  // limit, which lets its process hold more in flight.
  process.stdout.write(`campaign to ${SMALL} (id list) at 10000/s...\n`);
  const sameConfig = await runCampaign(env, { name: "small-fast", n: SMALL, rate: 10_000, ids: SMALL });

  process.stdout.write(`campaign to ${BIG} (all) at 10000/s...\n`);
  await admin.resetStats({});
  const big = await runCampaign(env, { name: "big", n: BIG, rate: 10_000 });
  const bigStats = await admin.getStats({});

  const rows = [
    { scenario: `raw: nodemailer pool -> sink (${RAW_N}), the platform's messages`, "msgs/s": raw.rate, "cpu ms/msg": raw.cpuPerMsg, "peak RSS MiB": "", "publish/s": "" },
    { scenario: `raw: the same, the bench's short message (reports before session 12)`, "msgs/s": rawShort.rate, "cpu ms/msg": rawShort.cpuPerMsg, "peak RSS MiB": "", "publish/s": "" },
    {
      scenario: `campaign ${SMALL} (id list, rate ${PACED_RATE}/s, no backlog limit)`,
      "msgs/s": small.rate,
      "cpu ms/msg": small.cpuPerMsg,
      "peak RSS MiB": small.peakRssMiB,
      "publish/s": small.pubRate,
    },
    {
      scenario: `campaign ${SMALL} (id list, rate 10000/s, backlog ≤ 5000)`,
      "msgs/s": sameConfig.rate,
      "cpu ms/msg": sameConfig.cpuPerMsg,
      "peak RSS MiB": sameConfig.peakRssMiB,
      "publish/s": "",
    },
    {
      scenario: `campaign ${BIG} (all, rate 10000/s, backlog ≤ 5000)`,
      "msgs/s": big.rate,
      "cpu ms/msg": big.cpuPerMsg,
      "peak RSS MiB": big.peakRssMiB,
      "publish/s": "",
    },
  ];
  const caps = [
    { "users-demo": `${SMALL} run`, "max concurrency": smallStats.maxConcurrency, "max calls/s": smallStats.maxCallsPerSecond, "max batch": smallStats.maxBatchSize, GetUsers: Number(smallStats.calls.GetUsers ?? 0), ListUsers: Number(smallStats.calls.ListUsers ?? 0) },
    { "users-demo": `${BIG} run`, "max concurrency": bigStats.maxConcurrency, "max calls/s": bigStats.maxCallsPerSecond, "max batch": bigStats.maxBatchSize, GetUsers: Number(bigStats.calls.GetUsers ?? 0), ListUsers: Number(bigStats.calls.ListUsers ?? 0) },
    // The caps are each process's (docs/operations.md): the user service may see them once per worker process.
    {
      "users-demo": `caps (NOTIFY_USERS_*, each of ${1 + EXTRA_WORKERS} processes)`,
      "max concurrency": `${CAPS.concurrency} (${CAPS.concurrency * (1 + EXTRA_WORKERS)} in all)`,
      "max calls/s": `${CAPS.rate} (${CAPS.rate * (1 + EXTRA_WORKERS)} in all)`,
      "max batch": CAPS.batch,
      GetUsers: "",
      ListUsers: "",
    },
  ];
  process.stdout.write(`\nbench:campaign (personalised "birthday" template, every recipient enriched; MariaDB over ${mariadbTransport})\n\n${table(rows)}\n\n${table(caps)}\n\n`);
  process.stdout.write(
    `ratio campaign/raw = ${(big.rate / raw.rate).toFixed(2)} against the same messages (target >= 0.6 for Step 4, >= 1.0 for Step 9), ` +
      `${(big.rate / rawShort.rate).toFixed(2)} against the short message; ` +
      `publish rate at ${PACED_RATE}/s configured = ${small.pubRate.toFixed(0)}/s (${((small.pubRate / PACED_RATE - 1) * 100).toFixed(1)}%, target within 10%); ` +
      `peak RSS ${SMALL} vs ${BIG} at the same settings: ${sameConfig.peakRssMiB.toFixed(0)} vs ${big.peakRssMiB.toFixed(0)} MiB ` +
      `(${((big.peakRssMiB / sameConfig.peakRssMiB - 1) * 100).toFixed(1)}%, target within 10%); ` +
      `duplicates at sink = ${env.sink.duplicates()}; runs: ${RunStatus[small.run.status]} sent=${small.run.sent}, ${RunStatus[big.run.status]} sent=${big.run.sent}\n` +
      `message size at the sink: ${big.bytesPerMsg.toFixed(0)} bytes on average from the platform, ${raw.bytesPerMsg.toFixed(0)} from the same-message baseline, ${rawShort.bytesPerMsg.toFixed(0)} from the short one\n` +
      `cpu ms/msg for campaigns counts the notifyd processes: one with api+relay+planner+worker+scheduler${EXTRA_WORKERS ? ` and ${EXTRA_WORKERS} with the worker role (BENCH_CAMPAIGN_WORKERS)` : ""}; peak RSS is the first one's; users-demo runs as its own process, the sink in the bench process.\n\n`,
  );
  process.stdout.write(
    `cost of the ${BIG} run, CPU ms per delivered email by process:\n\n${table(Object.entries(big.cost).map(([process, ms]) => ({ process, "cpu ms/msg": ms })))}\n\n` +
      `MariaDB statements per delivered email in the ${BIG} run: ${formatCounts(big.statements)}\n`,
  );
} finally {
  admin.close();
  await users?.stop({ timeoutMs: 10_000 }).catch(() => undefined);
  await env.sink.close().catch(() => undefined);
  await deleteStreams(env.prefix).catch(() => undefined);
  await dropDatabase(env.dbUrl).catch(() => undefined);
  await dropDatabase(usersDb).catch(() => undefined);
}
process.exit(0);
