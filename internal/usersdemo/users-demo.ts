import http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { UserDirectory } from "../../gen/cinema/users/v1/user_directory_pb.js";
import { DemoAdminService } from "../../gen/cinema/users/v1/demo_admin_service_pb.js";
import { createDb, ensureDatabase, type Db } from "../store/db.js";
import type { Logger } from "../log/logger.js";
import { createAdminService } from "./admin-service.js";
import { createDirectoryService } from "./directory-service.js";
import { createLoadControl, type Faults, type LoadControl } from "./load-control.js";
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
  const sessions = new Set<http2.ServerHttp2Session>();
  let db: Db | undefined;
  let server: http2.Http2Server | undefined;
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
      const handler = connectNodeAdapter({
        routes: (router) => {
          router.service(UserDirectory, directory, { interceptors: [control.interceptor] });
          router.service(DemoAdminService, admin);
        },
      });
      const srv = http2.createServer(handler);
      srv.on("session", (s) => {
        sessions.add(s);
        s.on("close", () => sessions.delete(s));
      });
      await new Promise<void>((resolve, reject) => {
        srv.once("error", reject);
        srv.listen(port, host, () => {
          srv.off("error", reject);
          resolve();
        });
      });
      server = srv;
      boundPort = (srv.address() as AddressInfo).port;
      log.info({ addr: address(), faults: control.faults() }, "users-demo listening");
    },

    async close() {
      const srv = server;
      server = undefined;
      if (srv) {
        const closed = new Promise<void>((resolve) => srv.close(() => resolve()));
        // GOAWAY lets streams in flight finish; whatever is still open after the grace period is cut.
        for (const s of sessions) s.close();
        const grace = setTimeout(() => {
          for (const s of sessions) s.destroy();
        }, opts.closeGraceMs ?? 5000);
        await closed;
        clearTimeout(grace);
      }
      if (db) {
        await db.end();
        db = undefined;
      }
      log.info("users-demo stopped");
    },
  };
}
