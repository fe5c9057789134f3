import { afterAll, beforeAll } from "vitest";
import { createDb, dropDatabase, ensureDatabase, type Db } from "../../internal/store/db.js";
import { migrate } from "../../internal/store/migrate.js";
import { MARIADB, uniqueName } from "./platform.js";

/**
 * A migrated database of its own for the test file that calls this (at its top level): created before
 * the first test, dropped after the last. `db` is ready inside tests and hooks declared after the call.
 */
export function useTestDatabase(area: string, poolSize = 4): { readonly url: string; readonly db: Db } {
  const url = `${MARIADB}/${uniqueName(area)}`;
  let db: Db | undefined;
  beforeAll(async () => {
    await ensureDatabase(url);
    await migrate(url);
    db = createDb({ url, poolSize });
  });
  afterAll(async () => {
    await db?.end();
    await dropDatabase(url);
  });
  return {
    url,
    get db() {
      if (!db) throw new Error("the test database is ready only inside tests and later hooks");
      return db;
    },
  };
}
