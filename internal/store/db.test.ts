import { beforeAll, describe, expect, it } from "vitest";
import { useTestDatabase } from "../../test/harness/database.js";
import { existsSync } from "node:fs";
import { loadConfig } from "../config/config.js";
import { createDb, withTx, type Db } from "./db.js";

// One connection in the pool: every transaction below runs on the same session, so a transaction left
// open by the helper would show in the next one.
const testDb = useTestDatabase("db", 1);
let db: Db;

const names = async (): Promise<string[]> => {
  const [rows] = (await db.query("SELECT name FROM tx_probe ORDER BY name")) as unknown as [{ name: string }[]];
  return rows.map((r) => r.name);
};
const inTransaction = async () => {
  const [rows] = (await db.query("SELECT @@in_transaction AS t")) as unknown as [{ t: number }[]];
  return Number(rows[0].t);
};

beforeAll(async () => {
  db = testDb.db;
  await db.query("CREATE TABLE tx_probe (name VARCHAR(20) PRIMARY KEY)");
});

describe("withTx", () => {
  it("answers each statement with its own result and commits what commitWith sent", async () => {
    await db.query("DELETE FROM tx_probe");
    const out = await withTx(db, async (c) => {
      const [rows] = (await c.query("SELECT COUNT(*) AS n FROM tx_probe WHERE name <> ?", ["x"])) as unknown as [{ n: number }[]];
      const [ins] = (await c.query("INSERT INTO tx_probe (name) VALUES (?), (?)", ["a", "b"])) as unknown as [{ affectedRows: number }];
      const [last] = (await c.commitWith("INSERT INTO tx_probe (name) VALUES (?), (?); DELETE FROM tx_probe WHERE name = ?", ["c", "d", "a"])) as unknown as [
        { affectedRows: number }[],
      ];
      return { before: Number(rows[0].n), inserted: ins.affectedRows, last: last.map((r) => r.affectedRows) };
    });
    expect(out).toEqual({ before: 0, inserted: 2, last: [2, 1] });
    expect(await names()).toEqual(["b", "c", "d"]);
    expect(await inTransaction()).toBe(0);
  });

  it("answers a first packet of several statements with one result each, as a single round trip with its commit", async () => {
    await db.query("DELETE FROM tx_probe");
    await db.query("INSERT INTO tx_probe (name) VALUES ('p')");
    const [[rows, upd]] = await withTx(db, (c) =>
      c.commitWith("SELECT name FROM tx_probe WHERE name = ? FOR UPDATE; UPDATE tx_probe SET name = ? WHERE name = ?", ["p", "q", "p"]),
    ) as unknown as [[{ name: string }[], { affectedRows: number }]];
    expect(rows).toEqual([{ name: "p" }]);
    expect(upd.affectedRows).toBe(1);
    expect(await names()).toEqual(["q"]);
    expect(await inTransaction()).toBe(0);
  });

  it("commits on its own when fn does not use commitWith, and statements after commitWith autocommit", async () => {
    await db.query("DELETE FROM tx_probe");
    await withTx(db, async (c) => {
      await c.query("INSERT INTO tx_probe (name) VALUES (?)", ["e"]);
    });
    await withTx(db, async (c) => {
      await c.commitWith("INSERT INTO tx_probe (name) VALUES (?)", ["f"]);
      await c.query("INSERT INTO tx_probe (name) VALUES (?)", ["g"]);
    });
    expect(await names()).toEqual(["e", "f", "g"]);
    expect(await inTransaction()).toBe(0);
  });

  it("rolls everything back when a statement of the commit packet fails, and leaves no transaction open", async () => {
    await db.query("DELETE FROM tx_probe");
    await db.query("INSERT INTO tx_probe (name) VALUES ('taken')");
    await expect(
      withTx(db, async (c) => {
        await c.query("INSERT INTO tx_probe (name) VALUES (?)", ["h"]);
        // The second statement fails on the key: the COMMIT after it never runs.
        await c.commitWith("INSERT INTO tx_probe (name) VALUES (?); INSERT INTO tx_probe (name) VALUES (?)", ["i", "taken"]);
      }),
    ).rejects.toMatchObject({ code: "ER_DUP_ENTRY" });
    expect(await names()).toEqual(["taken"]);
    expect(await inTransaction()).toBe(0);
  });

  it("rolls back when the first statement fails or fn throws after its writes", async () => {
    await db.query("DELETE FROM tx_probe");
    await expect(withTx(db, (c) => c.query("INSERT INTO tx_probe (nope) VALUES (1)"))).rejects.toMatchObject({ code: "ER_BAD_FIELD_ERROR" });
    await expect(
      withTx(db, async (c) => {
        await c.query("INSERT INTO tx_probe (name) VALUES (?)", ["j"]);
        await c.execute("INSERT INTO tx_probe (name) VALUES (?)", ["k"]);
        throw new Error("changed my mind");
      }),
    ).rejects.toThrow("changed my mind");
    expect(await names()).toEqual([]);
    expect(await inTransaction()).toBe(0);
  });
});

describe("the database URL", () => {
  it("connects through the Unix socket named by ?socketPath (a closed TCP port in the URL proves it is not used)", async () => {
    const [[{ socket }]] = (await db.query("SELECT @@socket AS socket")) as unknown as [{ socket: string }[]];
    if (!existsSync(socket)) return expect(socket).toBeTruthy(); // the server runs elsewhere: nothing local to reach
    const name = new URL(testDb.url).pathname.slice(1);
    const viaSocket = createDb({ url: `mysql://root@127.0.0.1:1/${name}?socketPath=${socket}`, poolSize: 1 });
    try {
      const [[row]] = (await viaSocket.query("SELECT DATABASE() AS db")) as unknown as [{ db: string }[]];
      expect(row.db).toBe(name);
    } finally {
      await viaSocket.end();
    }
  });

  it("is checked at start: a socket path is accepted, other parameters are not", () => {
    expect(loadConfig({ NOTIFY_DB_URL: "mysql://root@localhost:3306/notify?socketPath=/run/mysqld/mysqld.sock" }).db.url).toContain("socketPath=");
    expect(() => loadConfig({ NOTIFY_DB_URL: "mysql://root@localhost:3306/notify?ssl=false" })).toThrow(/NOTIFY_DB_URL/);
  });
});
