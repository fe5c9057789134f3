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
  demo = createUsersDemo({ dbUrl, users: 10, addr: "127.0.0.1:0", log });
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
