import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { connect, type NatsConnection } from "nats";
import { findBinary } from "./binaries.js";
import { freePort, freePorts } from "./ports.js";
import { spawnProcess, type ManagedProcess } from "./processes.js";

// nats-servers of a test's own, on free loopback ports with their own store dirs, so tests can kill
// and restart them without touching the machine's shared NATS on 4222.

export interface PrivateNats {
  readonly url: string;
  readonly port: number;
  /** JetStream store dir; kept across kill/restart. */
  readonly dir: string;
  readonly name: string;
  readonly running: boolean;
  /** The current server process (changes on restart). */
  readonly process: ManagedProcess;
  /** Signals the server (SIGKILL by default: no flush, no goodbye) and waits until it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and store dir (stopping it first if it runs). */
  restart(): Promise<void>;
  /** Graceful stop; removes the store dir when the harness created it. */
  stop(): Promise<void>;
}

export interface NatsOptions {
  /** Store dir; a fresh temporary one by default (then removed by stop()). */
  dir?: string;
  /** Client port; a free one by default. */
  port?: number;
  jetstream?: boolean;
  /** Server name (-n). */
  name?: string;
  /** Extra nats-server arguments. */
  args?: string[];
  /** Wait for JetStream to answer before returning (default: when jetstream is on). */
  waitForJetStream?: boolean;
  startTimeoutMs?: number;
}

const NATS_BIN_HINT = "apt-get install -y nats-server";

async function canConnect(url: string): Promise<NatsConnection | undefined> {
  try {
    return await connect({ servers: url, timeout: 1000, reconnect: false });
  } catch {
    return undefined;
  }
}

async function waitReady(proc: ManagedProcess, url: string, jetstream: boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "not reachable";
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`nats-server exited during start-up\n${proc.tail()}`);
    const nc = await canConnect(url);
    if (nc) {
      try {
        if (!jetstream) return;
        const jsm = await nc.jetstreamManager({ timeout: 1000 });
        await jsm.getAccountInfo();
        return;
      } catch (err) {
        lastErr = err instanceof Error ? err.message : String(err);
      } finally {
        await nc.close();
      }
    }
    await sleep(100);
  }
  throw new Error(`nats-server at ${url} not ready within ${timeoutMs} ms (${lastErr})\n${proc.tail()}`);
}

interface NodeSpec {
  name: string;
  port: number;
  dir: string;
  jetstream: boolean;
  extraArgs: () => string[];
}

function launch(bin: string, spec: NodeSpec): ManagedProcess {
  const args = ["-a", "127.0.0.1", "-p", String(spec.port), "-n", spec.name];
  if (spec.jetstream) args.push("-js", "-sd", spec.dir);
  args.push(...spec.extraArgs());
  return spawnProcess(bin, args, { name: `nats-${spec.name}`, logFile: join(spec.dir, "nats-server.log") });
}

function portInUse(proc: ManagedProcess): boolean {
  return proc.lines.some((l) => /address already in use/i.test(l.text));
}

function createNode(bin: string, spec: NodeSpec, ownsDir: boolean, waitJs: boolean, timeoutMs: number) {
  let proc: ManagedProcess = launch(bin, spec);
  const url = `nats://127.0.0.1:${spec.port}`;

  const startOnce = async () => {
    // After a SIGKILL the port can stay busy for a moment (another test may even have taken it).
    for (let attempt = 0; ; attempt++) {
      try {
        await waitReady(proc, url, waitJs, timeoutMs);
        return;
      } catch (err) {
        if (!portInUse(proc) || attempt >= 20) throw err;
        await proc.exited;
        await sleep(250);
        proc = launch(bin, spec);
      }
    }
  };

  const node: PrivateNats & { ready: () => Promise<void> } = {
    url,
    port: spec.port,
    dir: spec.dir,
    name: spec.name,
    get running() {
      return proc.running;
    },
    get process() {
      return proc;
    },
    ready: startOnce,
    async kill(signal = "SIGKILL") {
      proc.kill(signal);
      await proc.exited;
    },
    async restart() {
      if (proc.running) await proc.stop();
      proc = launch(bin, spec);
      await startOnce();
    },
    async stop() {
      await proc.stop();
      if (ownsDir) await rm(spec.dir, { recursive: true, force: true });
    },
  };
  return node;
}

/** Starts one private nats-server (JetStream on by default) and waits until it serves clients. */
export async function startNats(opts: NatsOptions = {}): Promise<PrivateNats> {
  const bin = findBinary("nats-server", NATS_BIN_HINT);
  const jetstream = opts.jetstream ?? true;
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "nats-")));
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  // With a port of our choosing, a race for it is retried on a new port; a given port is kept.
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const spec: NodeSpec = {
      name: opts.name ?? `n${port}`,
      port,
      dir,
      jetstream,
      extraArgs: () => opts.args ?? [],
    };
    const node = createNode(bin, spec, ownsDir, opts.waitForJetStream ?? jetstream, timeoutMs);
    try {
      await node.ready();
      return node;
    } catch (err) {
      const busy = portInUse(node.process);
      await node.kill();
      if (opts.port !== undefined || !busy || attempt >= 3) {
        if (ownsDir) await rm(dir, { recursive: true, force: true });
        throw err;
      }
    }
  }
}

export interface NatsCluster {
  readonly nodes: PrivateNats[];
  /** Client URLs of every node. */
  readonly urls: string[];
  /** All client URLs joined with commas, as NOTIFY_NATS_URL or `servers` accept. */
  readonly url: string;
  kill(index: number, signal?: NodeJS.Signals): Promise<void>;
  restart(index: number): Promise<void>;
  /** Index of the node whose server name is `name` (as in StreamInfo.cluster.leader). */
  indexOf(name: string): number;
  /** Index of the node currently leading `stream`. */
  leaderOf(stream: string): Promise<number>;
  stop(): Promise<void>;
}

/**
 * A JetStream cluster of `size` nodes on loopback (names n0..n{size-1}, cluster "c1"). Resolves once
 * an R{size} stream can be created, i.e. every node has joined the JetStream meta group.
 */
export async function startNatsCluster(size = 3, opts: { startTimeoutMs?: number } = {}): Promise<NatsCluster> {
  const bin = findBinary("nats-server", NATS_BIN_HINT);
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const root = await mkdtemp(join(tmpdir(), "nats-cluster-"));
  const ports = await freePorts(size * 2);
  const clusterUrls = ports.slice(size).map((p) => `nats://127.0.0.1:${p}`);
  const nodes = ports.slice(0, size).map((port, i) =>
    createNode(
      bin,
      {
        name: `n${i}`,
        port,
        dir: join(root, `n${i}`),
        jetstream: true,
        extraArgs: () => ["--cluster_name", "c1", "--cluster", clusterUrls[i], "--routes", clusterUrls.join(",")],
      },
      false,
      // A lone node cannot answer JetStream requests until the meta group has a leader.
      false,
      timeoutMs,
    ),
  );
  const urls = nodes.map((n) => n.url);
  const cluster: NatsCluster = {
    nodes,
    urls,
    url: urls.join(","),
    async kill(index, signal = "SIGKILL") {
      await nodes[index].kill(signal);
    },
    async restart(index) {
      await nodes[index].restart();
    },
    indexOf(name) {
      const i = nodes.findIndex((n) => n.name === name);
      if (i < 0) throw new Error(`no node named ${name}`);
      return i;
    },
    async leaderOf(stream) {
      const nc = await connect({ servers: urls.filter((_, i) => nodes[i].running), timeout: 2000 });
      try {
        const jsm = await nc.jetstreamManager();
        const info = await jsm.streams.info(stream);
        const leader = info.cluster?.leader;
        if (!leader) throw new Error(`stream ${stream} has no leader right now`);
        return cluster.indexOf(leader);
      } finally {
        await nc.close();
      }
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.stop()));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await Promise.all(nodes.map((n) => n.ready()));
    await waitForClusterJetStream(urls, size, timeoutMs);
    return cluster;
  } catch (err) {
    await cluster.stop();
    throw err;
  }
}

async function waitForClusterJetStream(urls: string[], replicas: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const probe = `harness_probe_${process.pid}_${Date.now()}`;
  let lastErr = "";
  const nc = await connect({ servers: urls, timeout: 2000 });
  try {
    while (Date.now() < deadline) {
      try {
        // jetstreamManager() itself asks for account info, which fails until the meta group has a leader.
        const jsm = await nc.jetstreamManager({ timeout: 2000 });
        await jsm.streams.add({ name: probe, subjects: [`${probe}.>`], num_replicas: replicas });
        await jsm.streams.delete(probe);
        return;
      } catch (err) {
        lastErr = err instanceof Error ? err.message : String(err);
        await sleep(250);
      }
    }
  } finally {
    await nc.close();
  }
  throw new Error(`NATS cluster JetStream not ready within ${timeoutMs} ms: ${lastErr}`);
}
