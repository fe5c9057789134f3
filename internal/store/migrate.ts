import { readdir, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import mysql from "mysql2/promise";
import type { Logger } from "../log/logger.js";
import { serverOf } from "./db.js";

/**
 * Migrations are numbered SQL files in ./migrations, applied once each in name order. Number ranges
 * per area keep parallel work from colliding: 001-009 core, 010-019 reliability, 020-029 templates
 * and preferences, 030-039 campaigns, 040-049 events and links, 050-059 inbox and websocket,
 * 060-069 operations and admin.
 */
export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), "migrations");

export async function migrate(url: string, log?: Logger, dir = MIGRATIONS_DIR): Promise<string[]> {
  const { name, options } = serverOf(url);
  const conn = await mysql.createConnection({
    ...options,
    database: name,
    multipleStatements: true,
    timezone: "Z",
  });
  const applied: string[] = [];
  try {
    // Several processes may start at once; one migrates, the others wait and then find nothing to do.
    const [[lock]] = (await conn.query("SELECT GET_LOCK('notify_migrate', 60) AS ok")) as unknown as [
      { ok: number }[],
    ];
    if (lock?.ok !== 1) throw new Error("could not take the migration lock within 60 s");
    await conn.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         name VARCHAR(200) NOT NULL PRIMARY KEY,
         applied_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
       ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`,
    );
    const [rows] = (await conn.query("SELECT name FROM schema_migrations")) as unknown as [{ name: string }[]];
    const done = new Set(rows.map((r) => r.name));
    const files = (await readdir(dir)).filter((f) => /^\d{3}_[\w-]+\.sql$/.test(f)).sort();
    for (const f of files) {
      if (done.has(f)) continue;
      const sql = await readFile(join(dir, f), "utf8");
      await conn.query(sql);
      await conn.query("INSERT INTO schema_migrations (name) VALUES (?)", [f]);
      applied.push(f);
      log?.info({ migration: f }, "migration applied");
    }
    await conn.query("SELECT RELEASE_LOCK('notify_migrate')");
  } finally {
    await conn.end();
  }
  return applied;
}
