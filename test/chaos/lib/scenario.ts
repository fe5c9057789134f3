import { scrape, sumOf } from "../../scale/prom-text.js";
import { setTimeout as sleep } from "node:timers/promises";
import { connect } from "nats";
import { startChaosCluster, type ChaosCluster } from "./cluster.js";
import { planLoad, sendLoad } from "./load.js";
import { formatTable, measure, saveResult, waitForDrain, type ChaosResult } from "./report.js";

// A chaos run: a private cluster, a load that keeps coming, a timeline of faults, then the drain and
// the table. Faults run one after another at their times (ms after the load starts).

export interface Fault {
  at: number;
  name: string;
  run(c: ChaosCluster, log: (s: string) => void): Promise<void>;
}

export interface ScenarioOptions {
  name: string;
  notifications: number;
  perSecond: number;
  batchShare: number;
  natsNodes: 1 | 3;
  users: number;
  permanent: number;
  dead: number;
  poison: number;
  env: Record<string, string>;
  faults: Fault[];
  drainTimeoutMs: number;
}

// Processes being started again in the background; the run waits for them before draining.
const restarting = new Set<Promise<void>>();

/**
 * SIGKILLs notifyd processes (kill -9 at whatever moment of their work) and starts them again in the
 * background, so the timeline goes on while they boot.
 */
export const killNodes = (at: number, names: string[], downMs = 500): Fault => ({
  at,
  name: `SIGKILL ${names.join(" + ")}`,
  async run(c, log) {
    for (const n of names) await c.nodes[n].kill();
    const p = (async () => {
      await sleep(downMs);
      await Promise.all(names.map((n) => c.nodes[n].start()));
      log(`  ${names.join(" + ")} serving again`);
    })();
    restarting.add(p);
    void p.finally(() => restarting.delete(p));
  },
});

/** SIGKILLs the single nats-server and starts it on the same store dir (unsynced data may be gone). */
export const restartNats = (at: number, downMs = 1000): Fault => ({
  at,
  name: "SIGKILL nats-server, restart",
  async run(c) {
    await c.nats!.kill();
    await sleep(downMs);
    await c.nats!.restart();
  },
});

/** SIGKILLs the node leading the work stream of a 3-node cluster, restarts it after downMs. */
export const killNatsLeader = (at: number, downMs: number): Fault => ({
  at,
  name: "SIGKILL the work stream's leader of the 3-node NATS cluster",
  async run(c, log) {
    const i = await c.natsCluster!.leaderOf(`${c.prefix.toUpperCase()}_WORK`);
    log(`  leader is n${i}`);
    await c.natsCluster!.kill(i);
    await sleep(downMs);
    await c.natsCluster!.restart(i);
  },
});

export const restartMariaDb = (at: number, downMs = 1000): Fault => ({
  at,
  name: "SIGKILL MariaDB, restart (crash recovery)",
  async run(c) {
    await c.db.kill();
    await sleep(downMs);
    await c.db.restart();
  },
});

export const smtpOutage = (at: number, ms: number): Fault => ({
  at,
  name: `SMTP sink answers 421 for ${ms / 1000} s`,
  async run(c) {
    c.sink.setMode({ kind: "tempfail", code: 421 });
    await sleep(ms);
    c.sink.setMode({ kind: "ok" });
  },
});

export const usersOutage = (at: number, ms: number): Fault => ({
  at,
  name: `user service UNAVAILABLE for ${ms / 1000} s`,
  async run(c) {
    await c.setUsersDown(true);
    await sleep(ms);
    await c.setUsersDown(false);
  },
});

/** Publishes undecodable messages straight onto the email work subject. */
export const poison = (at: number, n: number): Fault => ({
  at,
  name: `${n} poison messages on the email subject`,
  async run(c) {
    const nc = await connect({ servers: c.natsUrl.split(",") });
    try {
      const js = nc.jetstream();
      for (let i = 0; i < n; i++) await js.publish(`${c.prefix}.deliver.email`, new TextEncoder().encode(`\u0000poison ${i}`), { msgID: `poison-${i}` });
    } finally {
      await nc.close();
    }
  },
});

export async function runScenario(o: ScenarioOptions, log: (s: string) => void = (s) => process.stdout.write(`${s}\n`)): Promise<ChaosResult> {
  const startedAt = Date.now();
  const timeline: string[] = [];
  const note = (s: string) => {
    const line = `[${((Date.now() - startedAt) / 1000).toFixed(1).padStart(6)} s] ${s}`;
    timeline.push(line);
    log(line);
  };
  const cluster = await startChaosCluster({
    natsNodes: o.natsNodes,
    users: o.users,
    env: o.env,
    // The api process plans its own single Sends (planner/handoff.ts) and delivers them (delivery/
    // local.ts): a kill of it mid-handoff leaves requests that only the relay's grace period brings
    // back, and deliveries claimed at birth that only the reconciler does, once their lease is over.
    processes: { api: "api,planner,worker", relay: "relay", w1: "planner,worker", w2: "planner,worker" },
  });
  try {
    note(`cluster up: MariaDB :${cluster.db.port}, NATS ${cluster.natsUrl}, users-demo ${cluster.usersAddr}, 4 notifyd processes`);
    const plan = planLoad(o.notifications, { users: o.users, permanent: o.permanent, dead: o.dead });
    for (const a of plan.permanent) cluster.sink.rejectRecipients(a, 550);
    for (const a of plan.dead) cluster.sink.rejectRecipients(a, 451);

    const loadStart = Date.now();
    note(`load: ${o.notifications} notifications at ${o.perSecond}/s (${Math.round(o.batchShare * 100)}% in batches)`);
    const loading = sendLoad(cluster.grpcUrl, cluster.apiKey, plan, { perSecond: o.perSecond, batchShare: o.batchShare, batchSize: 100, inFlight: 8 }).then((r) => {
      note(`load: all ${r.accepted.size} accepted (${r.retries} calls retried)`);
      return r;
    });
    let lastFaultAt = Date.now();
    for (const f of [...o.faults].sort((a, b) => a.at - b.at)) {
      const wait = loadStart + f.at - Date.now();
      if (wait > 0) await sleep(wait);
      note(`fault: ${f.name}`);
      await f.run(cluster, note);
      lastFaultAt = Date.now();
      note(`fault over: ${f.name}`);
    }
    await Promise.all(restarting);
    const sent = await loading;
    lastFaultAt = Math.max(lastFaultAt, sent.finishedAt);
    const drainedAt = await waitForDrain(cluster.dbUrl, sent.accepted.size, o.drainTimeoutMs, note);
    // Mails already handed to SMTP when the ledger settled are still being parsed by the sink.
    await sleep(1500);
    note("drained");
    const result = await measure(cluster.dbUrl, cluster.sink, plan, sent, { poison: o.poison, drainedAt, lastFaultAt, startedAt });
    result.localDeliveries = sumOf(await scrape(`${cluster.httpUrl}/metrics`), "notify_local_deliveries_total");
    log(formatTable(o.name, result));
    saveResult(o.name, result, timeline);
    return result;
  } finally {
    await cluster.stop();
  }
}
