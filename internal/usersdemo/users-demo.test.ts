import { randomBytes } from "node:crypto";
import { getEventListeners } from "node:events";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import mysql from "mysql2/promise";
import { UserDirectory, type User } from "../../gen/cinema/users/v1/user_directory_pb.js";
import { DemoAdminService } from "../../gen/cinema/users/v1/demo_admin_service_pb.js";
import { createConnectClient } from "../rpc/connect-client.js";
import { createGrpcClient } from "../rpc/grpc-client.js";
import { createLogger } from "../log/logger.js";
import { createDb, dropDatabase } from "../store/db.js";
import { seedUsers } from "./schema.js";
import { createUsersDemo, type UsersDemo } from "./users-demo.js";

const USERS = 1200;
const dbUrl = `mysql://root@127.0.0.1:3306/t_usersdemo_${randomBytes(4).toString("hex")}`;
const log = createLogger({ level: "warn", name: "users-demo-test" });

let demo: UsersDemo;
let dir: Client<typeof UserDirectory>;
let admin: Client<typeof DemoAdminService>;
let all: User[] = [];

async function expectCode(p: Promise<unknown>, code: Code) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(code);
}

async function listAll(filter: Record<string, unknown>, pageSize = 250) {
  const out: User[] = [];
  let token = "";
  let total = -1n;
  let pages = 0;
  do {
    const res = await dir.listUsers({ pageSize, pageToken: token, filter });
    if (pages === 0) total = res.totalSize;
    else expect(res.totalSize).toBe(0n);
    out.push(...res.users);
    token = res.nextPageToken;
    pages++;
  } while (token);
  return { users: out, total, pages };
}

beforeAll(async () => {
  demo = createUsersDemo({ dbUrl, users: USERS, addr: "127.0.0.1:0", log });
  await demo.start();
  const baseUrl = `http://${demo.address}`;
  dir = createConnectClient(UserDirectory, { baseUrl });
  admin = createConnectClient(DemoAdminService, { baseUrl });
}, 30_000);

afterAll(async () => {
  await demo?.close();
  await dropDatabase(dbUrl);
});

describe("users-demo", () => {
  it("seeds exactly N users, and re-seeding to N changes nothing", async () => {
    const conn = await mysql.createConnection(dbUrl);
    try {
      const [[row]] = await conn.query<mysql.RowDataPacket[]>("SELECT COUNT(*) AS c, MAX(seq) AS m FROM demo_users");
      expect(Number(row.c)).toBe(USERS);
      expect(Number(row.m)).toBe(USERS);
    } finally {
      await conn.end();
    }
    const db = createDb({ url: dbUrl, poolSize: 2 });
    try {
      expect(await seedUsers(db, USERS)).toEqual({ inserted: 0, deleted: 0 });
    } finally {
      await db.end();
    }
  });

  it("GetUsers returns the users found and lists missing ids", async () => {
    const res = await dir.getUsers({ ids: ["u1", "u7", "u1200", "u1201", "nobody", "u7"] });
    expect(res.users.map((u) => u.id).sort()).toEqual(["u1", "u1200", "u7"]);
    expect(res.missingIds.sort()).toEqual(["nobody", "u1201"]);
    const u7 = res.users.find((u) => u.id === "u7")!;
    expect(u7.email).toBe("user7@example.test");
    expect(["ru", "en"]).toContain(u7.locale);
    expect(u7.timeZone).toMatch(/^(Europe|Asia|America)\//);
    expect(u7.favouriteGenres.length).toBeGreaterThan(0);
    expect(u7.name).toMatch(/\S+ \S+/);
    expect(u7.emailConfirmed).toBe(false);
    expect(u7.createdAt).toBeDefined();

    const ids = Array.from({ length: 501 }, (_, i) => `u${i + 1}`);
    await expectCode(dir.getUsers({ ids }), Code.InvalidArgument);
    expect((await dir.getUsers({ ids: ids.slice(0, 500) })).users).toHaveLength(500);
  });

  it("ListUsers pages cover every user exactly once, in numeric order", async () => {
    const { users, total, pages } = await listAll({});
    all = users;
    expect(total).toBe(BigInt(USERS));
    expect(pages).toBe(Math.ceil(USERS / 250));
    expect(users.map((u) => u.id)).toEqual(Array.from({ length: USERS }, (_, i) => `u${i + 1}`));
    // The data is a realistic mix, not one value everywhere.
    expect(new Set(users.map((u) => u.locale))).toEqual(new Set(["ru", "en"]));
    expect(new Set(users.map((u) => u.timeZone)).size).toBeGreaterThan(4);
    expect(users.filter((u) => u.subscriptionExpiresAt).length).toBeGreaterThan(USERS / 10);
  });

  it("ListUsers filters match a client-side scan of all users", async () => {
    const now = Date.now();
    const target = all.find((u) => u.birthday)!;
    const cases: Array<[Record<string, unknown>, (u: User) => boolean]> = [
      [{ locale: "en" }, (u) => u.locale === "en"],
      [{ favouriteGenre: "comedy" }, (u) => u.favouriteGenres.includes("comedy")],
      [{ timeZone: "Europe/Moscow", locale: "ru" }, (u) => u.timeZone === "Europe/Moscow" && u.locale === "ru"],
      [{ birthdayMonthDay: target.birthday.slice(5) }, (u) => u.birthday.slice(5) === target.birthday.slice(5)],
      [{ ids: ["u3", "u5", "u999", "ghost"] }, (u) => ["u3", "u5", "u999"].includes(u.id)],
      [
        { subscriptionExpiresWithinDays: 10 },
        (u) => {
          const t = u.subscriptionExpiresAt ? timestampDate(u.subscriptionExpiresAt).getTime() : 0;
          return t > now && t <= now + 10 * 86_400_000;
        },
      ],
    ];
    for (const [filter, pred] of cases) {
      const expected = all.filter(pred).map((u) => u.id);
      expect(expected.length, JSON.stringify(filter)).toBeGreaterThan(0);
      const { users, total } = await listAll(filter, 100);
      expect(users.map((u) => u.id), JSON.stringify(filter)).toEqual(expected);
      expect(total).toBe(BigInt(expected.length));
    }
    await expectCode(dir.listUsers({ filter: { birthdayMonthDay: "13-40" } }), Code.InvalidArgument);
    // A token is bound to its filter.
    const first = await dir.listUsers({ pageSize: 10, filter: { locale: "ru" } });
    await expectCode(
      dir.listUsers({ pageSize: 10, pageToken: first.nextPageToken, filter: { locale: "en" } }),
      Code.InvalidArgument,
    );
  });

  it("ConfirmEmail is atomic: newly_confirmed true once, then false; unknown user is NOT_FOUND", async () => {
    expect((await dir.confirmEmail({ userId: "u42" })).newlyConfirmed).toBe(true);
    expect((await dir.confirmEmail({ userId: "u42" })).newlyConfirmed).toBe(false);
    expect((await dir.getUsers({ ids: ["u42"] })).users[0].emailConfirmed).toBe(true);
    await expectCode(dir.confirmEmail({ userId: "u999999" }), Code.NotFound);
    // Racing confirmations: exactly one wins.
    const results = await Promise.all(Array.from({ length: 8 }, () => dir.confirmEmail({ userId: "u43" })));
    expect(results.filter((r) => r.newlyConfirmed)).toHaveLength(1);
  });

  it("injects faults into UserDirectory only and counts them", async () => {
    await admin.resetStats({});
    await admin.setFaults({ down: true });
    await expectCode(dir.getUsers({ ids: ["u1", "u2", "u3"] }), Code.Unavailable);
    await expectCode(dir.listUsers({}), Code.Unavailable);
    let stats = await admin.getStats({});
    expect(stats.injectedErrors).toBe(2n);
    expect(stats.calls).toEqual({ GetUsers: 1n, ListUsers: 1n });
    expect(stats.idsRequested).toBe(3n);
    expect(stats.maxBatchSize).toBe(3);

    await admin.setFaults({ errorRate: 1 });
    await expectCode(dir.confirmEmail({ userId: "u1" }), Code.Unavailable);
    await expectCode(admin.setFaults({ errorRate: 1.5 }), Code.InvalidArgument);
    await admin.setFaults({});
    expect((await dir.getUsers({ ids: ["u1"] })).users).toHaveLength(1);
    stats = await admin.getStats({});
    expect(stats.injectedErrors).toBe(3n);
    expect(stats.calls.GetUsers).toBe(2n);

    await admin.resetStats({});
    stats = await admin.getStats({});
    expect(stats.injectedErrors).toBe(0n);
    expect(stats.calls).toEqual({});
  });

  it("records max concurrency, max batch and calls per second under parallel load", async () => {
    await admin.resetStats({});
    await admin.setFaults({ latencyMs: 500 });
    try {
      const t0 = Date.now();
      await Promise.all(Array.from({ length: 12 }, (_, i) => dir.getUsers({ ids: [`u${i + 1}`, `u${i + 2}`] })));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(490);
    } finally {
      await admin.setFaults({});
    }
    const stats = await admin.getStats({});
    expect(stats.maxConcurrency).toBe(12);
    expect(stats.maxCallsPerSecond).toBe(12);
    expect(stats.maxBatchSize).toBe(2);
    expect(stats.idsRequested).toBe(24n);
    expect(stats.calls.GetUsers).toBe(12n);
  });

  it("serves a @grpc/grpc-js client made by createGrpcClient", async () => {
    const grpc = createGrpcClient(UserDirectory, demo.address, { timeoutMs: 5000 });
    try {
      const res = await grpc.getUsers({ ids: ["u5", "zz"] });
      expect(res.users.map((u) => u.email)).toEqual(["user5@example.test"]);
      expect(res.missingIds).toEqual(["zz"]);
      const page = await grpc.listUsers({ pageSize: 3, filter: { locale: "ru" } });
      expect(page.users).toHaveLength(3);
      expect(page.users.every((u) => u.locale === "ru")).toBe(true);
      expect(page.totalSize).toBe(BigInt(all.filter((u) => u.locale === "ru").length));
      await expectCode(grpc.confirmEmail({ userId: "ghost" }), Code.NotFound);

      // One long-lived signal shared by many calls: each call's abort listener goes when it ends.
      const shared = new AbortController();
      for (let i = 0; i < 15; i++) await grpc.getUsers({ ids: ["u1"] }, { signal: shared.signal });
      await expectCode(grpc.confirmEmail({ userId: "ghost" }, { signal: shared.signal }), Code.NotFound);
      expect(getEventListeners(shared.signal, "abort")).toHaveLength(0);

      await admin.setFaults({ latencyMs: 1000 });
      try {
        await expectCode(grpc.getUsers({ ids: ["u1"] }, { timeoutMs: 100 }), Code.DeadlineExceeded);
      } finally {
        await admin.setFaults({});
      }
    } finally {
      grpc.close();
    }
  });
});
