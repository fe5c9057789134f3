import { randomBytes } from "node:crypto";
import { createLogger } from "../../internal/log/logger.js";
import { loadConfig, type Config } from "../../internal/config/config.js";
import { dropDatabase, ensureDatabase } from "../../internal/store/db.js";
import { migrate } from "../../internal/store/migrate.js";
import { createAppContext, type AppContext, type AppOverrides } from "../../internal/app/context.js";
import { startRuntime, type Runtime } from "../../internal/app/runtime.js";
import { generateKey } from "../../internal/auth/api-keys.js";
import { createUsersDemo, type UsersDemo } from "../../internal/usersdemo/users-demo.js";
import { startSmtpSink, type SmtpSink } from "./smtp-sink.js";
import { spawnNode, type ManagedProcess } from "./processes.js";

export const MARIADB = process.env.TEST_MARIADB_URL ?? "mysql://root@127.0.0.1:3306";
export const NATS = process.env.TEST_NATS_URL ?? "nats://127.0.0.1:4222";

/** A unique name per test run, so runs never collide and clean up after themselves. */
export function uniqueName(area: string): string {
  return `t_${area}_${randomBytes(4).toString("hex")}`;
}

export interface TestStack {
  dbUrl: string;
  prefix: string;
  apiKey: string;
  sink: SmtpSink;
  usersDemo: UsersDemo;
  /** The env a notifyd process needs to join this stack. */
  env: Record<string, string>;
  /** Starts an in-process notifyd with the given roles. */
  startNode(roles: string, extraEnv?: Record<string, string>, overrides?: AppOverrides): Promise<TestNode>;
  /** Spawns a notifyd process (for kill tests). */
  spawnNode(roles: string, extraEnv?: Record<string, string>): ManagedProcess;
  close(): Promise<void>;
}

export interface TestNode {
  ctx: AppContext;
  rt: Runtime;
  cfg: Config;
  grpcUrl: string;
  httpUrl: string;
  stop(): Promise<void>;
}

/**
 * Everything a black-box test of the platform needs, all real: its own MariaDB database, its own
 * NATS stream prefix, users-demo over its own database, and an SMTP sink.
 */
export async function startTestStack(area: string, opts: { users?: number; env?: Record<string, string> } = {}): Promise<TestStack> {
  const name = uniqueName(area);
  const dbUrl = `${MARIADB}/${name}`;
  const usersDbUrl = `${MARIADB}/${name}_users`;
  const prefix = name.replace(/^t_/, "t");
  const log = createLogger({ level: process.env.TEST_LOG_LEVEL ?? "warn", name: area });
  await ensureDatabase(dbUrl);
  await migrate(dbUrl);
  const sink = await startSmtpSink();
  const usersDemo = createUsersDemo({ dbUrl: usersDbUrl, users: opts.users ?? 200, addr: "127.0.0.1:0", log });
  await usersDemo.start();
  const apiKey = generateKey();
  const env: Record<string, string> = {
    NOTIFY_DB_URL: dbUrl,
    NOTIFY_DB_POOL: "8",
    NOTIFY_MIGRATE_ON_START: "false",
    NOTIFY_NATS_URL: NATS,
    NOTIFY_NATS_PREFIX: prefix,
    NOTIFY_GRPC_ADDR: "127.0.0.1:0",
    NOTIFY_HTTP_ADDR: "127.0.0.1:0",
    NOTIFY_SMTP_URL: sink.url,
    NOTIFY_USERS_ADDR: usersDemo.address,
    NOTIFY_BOOTSTRAP_API_KEY: apiKey,
    NOTIFY_RETRY_BACKOFF: "200ms,400ms,800ms",
    NOTIFY_RELAY_POLL: "200ms",
    NOTIFY_LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "warn",
    ...opts.env,
  };
  const nodes: TestNode[] = [];
  const procs: ManagedProcess[] = [];
  return {
    dbUrl,
    prefix,
    apiKey,
    sink,
    usersDemo,
    env,
    async startNode(roles, extraEnv = {}, overrides = {}) {
      const cfg = loadConfig({ ...env, ...extraEnv, NOTIFY_ROLES: roles });
      const ctx = await createAppContext(cfg, log, overrides);
      await ctx.apiKeys.ensure("bootstrap", ["send", "read", "admin"], apiKey);
      const rt = await startRuntime(ctx);
      const node: TestNode = {
        ctx,
        rt,
        cfg,
        grpcUrl: rt.api ? `http://${rt.api.grpc.address}` : "",
        httpUrl: rt.api ? `http://${rt.api.http.address}` : "",
        async stop() {
          const i = nodes.indexOf(node);
          if (i >= 0) nodes.splice(i, 1);
          await rt.stop();
          await ctx.close();
        },
      };
      nodes.push(node);
      return node;
    },
    spawnNode(roles, extraEnv = {}) {
      // Spawned nodes log at info: tests wait for their "started" lines, and the log file helps post-mortems.
      const p = spawnNode("cmd/notifyd/main.ts", [], { ...env, NOTIFY_LOG_LEVEL: "info", ...extraEnv, NOTIFY_ROLES: roles }, { name: `notifyd-${roles}`, logFile: true });
      procs.push(p);
      return p;
    },
    async close() {
      for (const n of [...nodes]) await n.stop().catch(() => undefined);
      for (const p of procs) await p.stop({ timeoutMs: 5000 }).catch(() => undefined);
      await usersDemo.close().catch(() => undefined);
      await sink.close().catch(() => undefined);
      await deleteStreams(prefix).catch(() => undefined);
      await dropDatabase(dbUrl).catch(() => undefined);
      await dropDatabase(usersDbUrl).catch(() => undefined);
    },
  };
}

/** Deletes the streams of one prefix (a test's or a bench's own). */
export async function deleteStreams(prefix: string) {
  const { connect } = await import("nats");
  const nc = await connect({ servers: NATS });
  try {
    const jsm = await nc.jetstreamManager();
    const P = prefix.toUpperCase();
    for (const s of ["WORK", "EVENTS", "DLQ"]) await jsm.streams.delete(`${P}_${s}`).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

/** Polls until fn returns a truthy value or the time runs out. */
export async function eventually<T>(fn: () => Promise<T | undefined | false | null>, timeoutMs = 15_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ""}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
