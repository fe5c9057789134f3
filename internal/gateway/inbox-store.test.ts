import { beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../store/db.js";
import { useTestDatabase } from "../../test/harness/database.js";
import { storeItems, type NewInboxItem } from "./inbox-store.js";

const testDb = useTestDatabase("inbox");
let db: Db;

beforeAll(() => {
  db = testDb.db;
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
