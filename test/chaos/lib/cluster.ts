import { freePorts, spawnNode, startMariaDb, startNats, startNatsCluster, startSmtpSink, type ManagedProcess, type NatsCluster, type PrivateMariaDb, type PrivateNats, type SmtpSink } from "../../harness/index.js";
import { DemoAdminService } from "../../../gen/cinema/users/v1/demo_admin_service_pb.js";
import { createGrpcClient } from "../../../internal/rpc/grpc-client.js";
import { generateKey } from "../../../internal/auth/api-keys.js";

// Everything a chaos run kills: its own MariaDB, its own NATS (one node or a 3-node cluster), an SMTP
// sink, users-demo as a process, and notifyd processes by role. Nothing here touches the machine's
// shared services.

export interface ChaosClusterOptions {
  natsNodes: 1 | 3;
  users: number;
  /** Extra notifyd settings (back-off, leases, breakers...). */
  env: Record<string, string>;
  /** Processes to run: name -> roles. */
  processes: Record<string, string>;
}

export interface NotifydProcess {
  readonly name: string;
  readonly roles: string;
  proc: ManagedProcess;
  /** SIGKILL (no goodbye) and wait until it is gone. */
  kill(): Promise<void>;
  /** Start it again with the same roles and env; resolves once it serves. */
  start(): Promise<void>;
}

export interface ChaosCluster {
  db: PrivateMariaDb;
  nats?: PrivateNats;
  natsCluster?: NatsCluster;
  natsUrl: string;
  sink: SmtpSink;
  usersDemo: ManagedProcess;
  usersAddr: string;
  apiKey: string;
  grpcUrl: string;
  /** The api process's HTTP listener (/metrics). */
  httpUrl: string;
  dbUrl: string;
  prefix: string;
  env: Record<string, string>;
  nodes: Record<string, NotifydProcess>;
  /** users-demo fault injection (DemoAdminService.SetFaults). */
  setUsersDown(down: boolean): Promise<void>;
  restartNats(): Promise<void>;
  stop(): Promise<void>;
}

export async function startChaosCluster(o: ChaosClusterOptions): Promise<ChaosCluster> {
  const db = await startMariaDb();
  let nats: PrivateNats | undefined;
  let natsCluster: NatsCluster | undefined;
  if (o.natsNodes === 3) natsCluster = await startNatsCluster(3);
  else nats = await startNats();
  const natsUrl = natsCluster ? natsCluster.url : nats!.url;
  const sink = await startSmtpSink();
  const [usersPort, grpcPort, httpPort] = await freePorts(3);
  const usersAddr = `127.0.0.1:${usersPort}`;
  const usersDemo = spawnNode(
    "cmd/users-demo/main.ts",
    ["--db-url", db.urlFor("users_demo"), "--addr", usersAddr, "--users", String(o.users), "--log-level", "info"],
    {},
    { name: "users-demo", logFile: true },
  );
  await usersDemo.waitForLine("users-demo listening", 60_000);

  const apiKey = generateKey();
  const prefix = "chaos";
  const dbUrl = db.urlFor("notify");
  const env: Record<string, string> = {
    NOTIFY_DB_URL: dbUrl,
    NOTIFY_DB_POOL: "16",
    NOTIFY_MIGRATE_ON_START: "false",
    NOTIFY_NATS_URL: natsUrl,
    NOTIFY_NATS_PREFIX: prefix,
    NOTIFY_NATS_REPLICAS: String(o.natsNodes),
    NOTIFY_GRPC_ADDR: "127.0.0.1:0",
    NOTIFY_HTTP_ADDR: "127.0.0.1:0",
    NOTIFY_SMTP_URL: sink.url,
    NOTIFY_USERS_ADDR: usersAddr,
    NOTIFY_BOOTSTRAP_API_KEY: apiKey,
    NOTIFY_LOG_LEVEL: "info",
    ...o.env,
  };
  const migrate = spawnNode("cmd/notifyd/main.ts", ["migrate"], env, { name: "notifyd-migrate", logFile: true });
  const exit = await migrate.exited;
  if (exit.code !== 0) throw new Error(`notifyd migrate failed: ${JSON.stringify(exit)}\n${migrate.tail()}`);

  const nodes: Record<string, NotifydProcess> = {};
  for (const [name, roles] of Object.entries(o.processes)) {
    const ownEnv = { ...env, NOTIFY_ROLES: roles };
    if (roles.includes("api")) Object.assign(ownEnv, { NOTIFY_GRPC_ADDR: `127.0.0.1:${grpcPort}`, NOTIFY_HTTP_ADDR: `127.0.0.1:${httpPort}` });
    const node: NotifydProcess = {
      name,
      roles,
      proc: undefined as unknown as ManagedProcess,
      async kill() {
        node.proc.kill("SIGKILL");
        await node.proc.exited;
      },
      async start() {
        node.proc = spawnNode("cmd/notifyd/main.ts", [], ownEnv, { name: `notifyd-${name}`, logFile: true });
        await node.proc.waitForLine((l) => l.json?.msg === "notifyd started", 90_000);
      },
    };
    nodes[name] = node;
  }
  // One at a time: the first creates the streams and the bootstrap key; start-up is CPU-bound anyway.
  for (const n of Object.values(nodes)) await n.start();

  const admin = createGrpcClient(DemoAdminService, usersAddr, { timeoutMs: 5000 });
  return {
    db,
    nats,
    natsCluster,
    natsUrl,
    sink,
    usersDemo,
    usersAddr,
    apiKey,
    grpcUrl: `http://127.0.0.1:${grpcPort}`,
    httpUrl: `http://127.0.0.1:${httpPort}`,
    dbUrl,
    prefix,
    env,
    nodes,
    async setUsersDown(down) {
      await admin.setFaults({ latencyMs: 0, errorRate: 0, down });
    },
    async restartNats() {
      if (nats) {
        await nats.kill();
        await nats.restart();
      }
    },
    async stop() {
      admin.close();
      for (const n of Object.values(nodes)) await n.proc?.stop({ timeoutMs: 10_000 }).catch(() => undefined);
      await usersDemo.stop().catch(() => undefined);
      await sink.close().catch(() => undefined);
      await nats?.stop().catch(() => undefined);
      await natsCluster?.stop().catch(() => undefined);
      await db.stop().catch(() => undefined);
    },
  };
}
