import { UserDirectory } from "../../gen/cinema/users/v1/user_directory_pb.js";
import { DemoAdminService } from "../../gen/cinema/users/v1/demo_admin_service_pb.js";
import { createDb, ensureDatabase, type Db } from "../store/db.js";
import type { Logger } from "../log/logger.js";
import { createAdminService } from "./admin-service.js";
import { createDirectoryService } from "./directory-service.js";
import { createLoadControl, type Faults, type LoadControl } from "./load-control.js";
import { listenGrpc, recordRoutes } from "../rpc/grpc-server.js";
import type { Listener } from "../server/listen.js";
import { ensureSchema, seedUsers } from "./schema.js";

export const DEFAULT_USERS_DEMO_ADDR = "127.0.0.1:50061";
export const DEFAULT_USERS_DEMO_DB_URL = "mysql://root@127.0.0.1:3306/users_demo";
export const DEFAULT_USERS_DEMO_USERS = 10_000;

export interface UsersDemoOptions {
  /** mysql://user:pass@host:port/database; the database is created when missing. */
  dbUrl: string;
  /** How many users to seed (ids u1..uN). */
  users?: number;
  /** host:port to listen on; port 0 picks a free one (read `address` after start). */
  addr?: string;
  log: Logger;
  /** Faults active from the start (also settable later via DemoAdminService). */
  faults?: Partial<Faults>;
  poolSize?: number;
  /** How long close() lets in-flight calls finish before cutting connections. */
  closeGraceMs?: number;
}

export interface UsersDemo {
  start(): Promise<void>;
  close(): Promise<void>;
  /** host:port actually listened on (after start). */
  readonly address: string;
  /** The same fault and counter state DemoAdminService exposes, for in-process callers. */
  readonly control: LoadControl;
}

export function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (!m) throw new Error(`address must be host:port, got "${addr}"`);
  return { host: m[1], port: Number(m[2]) };
}

export function createUsersDemo(opts: UsersDemoOptions): UsersDemo {
  const log = opts.log;
  const users = opts.users ?? DEFAULT_USERS_DEMO_USERS;
  if (!Number.isInteger(users) || users < 0) throw new Error(`users must be a non-negative integer, got ${users}`);
  const { host, port } = splitHostPort(opts.addr ?? DEFAULT_USERS_DEMO_ADDR);
  const control = createLoadControl(opts.faults);
  let db: Db | undefined;
  let server: Listener | undefined;
  let boundPort = port;
  const address = () => (host.includes(":") ? `[${host}]:${boundPort}` : `${host}:${boundPort}`);

  return {
    control,
    get address() {
      return address();
    },

    async start() {
      await ensureDatabase(opts.dbUrl);
      db = createDb({ url: opts.dbUrl, poolSize: opts.poolSize ?? 16 });
      await ensureSchema(db);
      const t0 = Date.now();
      const seeded = await seedUsers(db, users);
      log.info({ users, ...seeded, ms: Date.now() - t0 }, "demo users seeded");

      const directory = createDirectoryService(db, log);
      const admin = createAdminService(control, log);
      // Served by grpc-js like notifyd's gRPC port: its callers are gRPC stubs, and the user service
      // shares the cores with the platform in every bench.
      const routes = recordRoutes((router) => {
        router.service(UserDirectory, directory, { interceptors: [control.interceptor] });
        router.service(DemoAdminService, admin);
      });
      server = await listenGrpc(address(), routes, { readMaxBytes: 4 * 1024 * 1024, closeGraceMs: opts.closeGraceMs ?? 5000 });
      boundPort = server.port;
      log.info({ addr: address(), faults: control.faults() }, "users-demo listening");
    },

    async close() {
      const srv = server;
      server = undefined;
      // Calls in flight may finish within the grace period; whatever is still open then is cut.
      await srv?.close();
      if (db) {
        await db.end();
        db = undefined;
      }
      log.info("users-demo stopped");
    },
  };
}
