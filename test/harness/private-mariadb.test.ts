import { existsSync } from "node:fs";
import mysql from "mysql2/promise";
import { afterAll, describe, expect, it } from "vitest";
import { startMariaDb, type PrivateMariaDb } from "./private-mariadb.js";

let db: PrivateMariaDb | undefined;
afterAll(async () => {
  await db?.stop();
});

describe("startMariaDb", () => {
  it("keeps committed rows across SIGKILL and restart, and loses the uncommitted one", async () => {
    db = await startMariaDb();
    expect(db.port).not.toBe(3306);
    expect(db.url).toBe(`mysql://root@127.0.0.1:${db.port}/`);
    let conn = await mysql.createConnection({ host: "127.0.0.1", port: db.port, user: "root" });
    await conn.query("CREATE DATABASE h");
    await conn.query("CREATE TABLE h.t (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=InnoDB");
    for (let i = 0; i < 50; i++) await conn.query("INSERT INTO h.t VALUES (?, ?)", [i, `v${i}`]);
    const open = await mysql.createConnection({ host: "127.0.0.1", port: db.port, user: "root" });
    await open.query("BEGIN");
    await open.query("INSERT INTO h.t VALUES (999, 'uncommitted')");

    await db.kill();
    expect(db.running).toBe(false);
    conn.destroy();
    open.destroy();

    await db.restart();
    expect(db.running).toBe(true);
    conn = await mysql.createConnection({ host: "127.0.0.1", port: db.port, user: "root", database: "h" });
    const [rows] = (await conn.query("SELECT COUNT(*) AS n, MAX(id) AS maxId FROM t")) as unknown as [
      { n: number; maxId: number }[],
    ];
    expect(rows[0]).toEqual({ n: 50, maxId: 49 });
    await conn.end();
    expect(db.urlFor("h")).toBe(`mysql://root@127.0.0.1:${db.port}/h`);

    const dir = db.dir;
    await db.stop();
    db = undefined;
    expect(existsSync(dir)).toBe(false);
  });
});
