import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, dropDatabase, ensureDatabase, type Db } from "../store/db.js";
import { migrate } from "../store/migrate.js";
import { MARIADB, uniqueName } from "../../test/harness/platform.js";
import { storeItems, type NewInboxItem } from "./inbox-store.js";

const url = `${MARIADB}/${uniqueName("inbox")}`;
let db: Db;

beforeAll(async () => {
  await ensureDatabase(url);
  await migrate(url);
  db = createDb({ url, poolSize: 4 });
});
afterAll(async () => {
  await db?.end();
  await dropDatabase(url);
});

const item = (id: string, title = `title ${id}`): NewInboxItem => ({
  id,
  notificationId: `n-${id}`,
  userId: "u1",
  category: "transactional",
  senderId: "",
  template: "plain",
  title,
  body: "body",
});

describe("storeItems", () => {
  it("creates each delivery's row once: new rows are fresh, stored ones come back as they were", async () => {
    const [first] = await storeItems(db, [item("d1", "the first title")]);
    expect(first.fresh).toBe(true);
    expect(first.item.seq).toBeGreaterThan(0);

    // A redelivery of d1 (other content is ignored: the stored row wins), a new d2, and d2 again in
    // the same batch.
    const out = await storeItems(db, [item("d1", "changed"), item("d2"), item("d2")]);
    expect(out.map((o) => o.fresh)).toEqual([false, true, false]);
    expect(out[0].item).toMatchObject({ id: "d1", seq: first.item.seq, title: "the first title" });
    expect(out[1].item.seq).toBe(out[2].item.seq);
    expect(out[1].item.seq).toBeGreaterThan(first.item.seq);

    const [rows] = (await db.query("SELECT delivery_id, COUNT(*) AS n FROM inbox GROUP BY delivery_id ORDER BY delivery_id")) as unknown as [
      { delivery_id: string; n: number }[],
    ];
    expect(rows).toEqual([
      { delivery_id: "d1", n: 1 },
      { delivery_id: "d2", n: 1 },
    ]);
  });
});
