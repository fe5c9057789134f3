import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dropDatabase } from "../store/db.js";
import { createLogger } from "../log/logger.js";
import { MARIADB, uniqueName } from "../../test/harness/platform.js";
import { createUsersDemo, type UsersDemo } from "../usersdemo/users-demo.js";
import { createUsersClient } from "./client.js";

const log = createLogger({ level: "silent" });
const dbUrl = `${MARIADB}/${uniqueName("users_client")}`;
let demo: UsersDemo;

beforeAll(async () => {
  demo = createUsersDemo({ dbUrl, users: 300, addr: "127.0.0.1:0", log });
  await demo.start();
});

afterAll(async () => {
  await demo?.close();
  await dropDatabase(dbUrl);
});

describe("users client cache", () => {
  it("keeps at most cacheMax users, dropping the oldest first", async () => {
    const client = createUsersClient({ addr: demo.address, rate: 1000, concurrency: 4, batch: 100, cacheTtlMs: 60_000, cacheMax: 2, timeoutMs: 3000, log });
    const calls = () => demo.control.stats().calls.GetUsers ?? 0;
    try {
      for (const id of ["u1", "u2", "u3"]) expect((await client.getUser(id))?.id).toBe(id);
      const before = calls();
      // u2 and u3 are the two kept; u1 went first.
      expect((await client.getUser("u3"))?.id).toBe("u3");
      expect((await client.getUser("u2"))?.id).toBe("u2");
      expect(calls()).toBe(before);
      expect((await client.getUser("u1"))?.id).toBe("u1");
      expect(calls()).toBe(before + 1);
    } finally {
      client.close();
    }
  });
});

describe("users client batching", () => {
  it("sends a lone lookup at once and, while two calls are under way, gathers the rest into full batches", async () => {
    const client = createUsersClient({ addr: demo.address, rate: 100_000, concurrency: 4, batch: 100, cacheTtlMs: 0, cacheMax: 0, timeoutMs: 3000, log });
    try {
      demo.control.resetStats();
      expect((await client.getUser("u7"))?.id).toBe("u7");
      expect(demo.control.stats()).toMatchObject({ calls: { GetUsers: 1 }, maxBatchSize: 1 });

      // A slow service: the first two lookups leave alone, the other 248 wait for full calls.
      demo.control.setFaults({ latencyMs: 40, errorRate: 0, down: false });
      demo.control.resetStats();
      const ids = Array.from({ length: 250 }, (_, i) => `u${i + 1}`);
      const users = await Promise.all(ids.map((id) => client.getUser(id)));
      expect(users.map((u) => u?.id)).toEqual(ids);
      const s = demo.control.stats();
      // At most 1 + 1 + 100 + 100 + 48 (a call the rate cap holds back takes ids when it starts, so
      // fewer); one-id calls would be 250.
      expect(s.calls.GetUsers).toBeGreaterThanOrEqual(3);
      expect(s.calls.GetUsers).toBeLessThanOrEqual(5);
      expect(s.maxBatchSize).toBe(100);
      expect(s.maxConcurrency).toBeLessThanOrEqual(4);
      expect(s.idsRequested).toBe(250);
    } finally {
      demo.control.setFaults({ latencyMs: 0, errorRate: 0, down: false });
      client.close();
    }
  });
});
