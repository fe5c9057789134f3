import { beforeAll, describe, expect, it } from "vitest";
import type { JetStreamClient } from "nats";
import type { Db } from "../store/db.js";
import { useTestDatabase } from "../../test/harness/database.js";
import { uniqueName } from "../../test/harness/platform.js";
import { createTopology } from "../bus/topology.js";
import { createLogger } from "../log/logger.js";
import { DeliveryState, NotificationState } from "../notification/model.js";
import type { NotificationRow } from "../notification/queries.js";
import { createPlanner, type PlannedDelivery } from "./planner.js";

const testDb = useTestDatabase("planner", 8);
let db: Db;

beforeAll(() => {
  db = testDb.db;
});

const notification = (id: string): NotificationRow => ({
  id,
  source: "test",
  idempotency_key: id,
  payload_hash: "",
  template_key: "t",
  template_version: 1,
  template_version_id: 1,
  category: "transactional",
  channels: "email",
  locale: "",
  sender_id: "",
  campaign_id: null,
  data: "{}",
  recipients: "[]",
  recipient_count: 3,
  status: NotificationState.Accepted,
  send_after: null,
  created_at: new Date(),
});

const deliveries = (n: string): PlannedDelivery[] => [
  { id: `${n}-a`, recipient: "a@x.test", userId: "", address: "a@x.test", channel: "email", decision: { kind: "skip", reason: "suppressed" } },
  { id: `${n}-b`, recipient: "u1", userId: "u1", channel: "email", decision: { kind: "deliver" } },
  { id: `${n}-c`, recipient: "u2", userId: "u2", channel: "email", decision: { kind: "deliver" } },
];

describe("planner record", () => {
  it("writes each delivery's first event once when two planners record the same notification at the same moment", async () => {
    // Two replicas (or a redelivery next to the first copy): each passes the existence check before
    // either inserts. Rounds make the overlap certain rather than lucky.
    const make = () =>
      createPlanner({
        db,
        js: {} as JetStreamClient,
        topology: createTopology(uniqueName("planner")),
        policy: { decide: async () => new Map() },
        log: createLogger({ level: "silent" }),
      });
    const [p1, p2] = [make(), make()];
    const published: string[] = [];
    const publish = async (msgs: { msgId: string }[]) => published.push(...msgs.map((m) => m.msgId));
    const created: number[] = [];
    for (let round = 0; round < 20; round++) {
      const n = notification(`n${round}`);
      const rs = await Promise.all([p1.record(n, deliveries(n.id), publish), p2.record(n, deliveries(n.id), publish)]);
      created.push(rs[0].created + rs[1].created);
    }
    const [events] = (await db.query(
      "SELECT delivery_id, COUNT(*) AS k, MIN(status) AS s FROM delivery_events GROUP BY delivery_id HAVING k <> 1 OR delivery_id LIKE '%-a' AND s <> ?",
      [DeliveryState.Skipped],
    )) as unknown as [{ delivery_id: string; k: number }[]];
    expect(events).toEqual([]);
    const [[count]] = (await db.query("SELECT COUNT(*) AS rows_, COUNT(DISTINCT id) AS ids FROM deliveries")) as unknown as [
      { rows_: number; ids: number }[],
    ];
    expect(count).toEqual({ rows_: 60, ids: 60 });
    // Each round created its three rows once between the two planners.
    expect(created).toEqual(Array(20).fill(3));
    // Deliverable rows may be published by both copies (the broker drops the second by msgID); skipped ones never.
    expect(published.some((id) => id.endsWith("-a"))).toBe(false);
    expect(new Set(published).size).toBe(40);
  });
});

describe("planner record, rows that exist already", () => {
  const make = () => {
    const published: { msgId: string; data: Uint8Array }[] = [];
    const planner = createPlanner({
      db,
      js: {} as JetStreamClient,
      topology: createTopology(uniqueName("planner")),
      policy: { decide: async () => new Map() },
      log: createLogger({ level: "silent" }),
    });
    const publish = async (msgs: { msgId: string; data: Uint8Array }[]) => published.push(...msgs);
    return { planner, published, publish };
  };

  it("creates only the missing rows and republishes only those still pending", async () => {
    const { planner, published, publish } = make();
    const n = notification("again");
    await planner.record(n, deliveries(n.id).slice(1, 2), publish);
    await db.query("UPDATE deliveries SET status = ? WHERE id = ?", [DeliveryState.Sent, `${n.id}-b`]);
    published.length = 0;
    // A redelivered request: -b exists (sent), -c is new; -a is skipped by policy.
    const { delivering: _, ...r } = await planner.record(n, deliveries(n.id), publish);
    expect(r).toEqual({ created: 2, published: 1 });
    expect(published.map((m) => m.msgId)).toEqual([`${n.id}-c`]);
    const [rows] = (await db.query("SELECT id, status FROM deliveries WHERE notification_id = ? ORDER BY id", [n.id])) as unknown as [
      { id: string; status: number }[],
    ];
    expect(rows).toEqual([
      { id: `${n.id}-a`, status: DeliveryState.Skipped },
      { id: `${n.id}-b`, status: DeliveryState.Sent },
      { id: `${n.id}-c`, status: DeliveryState.Pending },
    ]);
  });

  it("carries a single Send's data in its delivery messages, and leaves a campaign's in the row", async () => {
    const { planner, published, publish } = make();
    const single = { ...notification("inline"), data: '{"film":"Nosferatu"}', sender_id: "s1", template_key: "premiere" };
    await planner.record(single, deliveries(single.id), publish);
    const body = JSON.parse(new TextDecoder().decode(published[0].data));
    expect(body.x).toEqual({ data: '{"film":"Nosferatu"}', template: "premiere", sender: "s1" });
    published.length = 0;
    await planner.record({ ...notification("campaign"), campaign_id: 7 }, deliveries("campaign"), publish);
    await planner.record({ ...notification("big"), data: JSON.stringify({ text: "x".repeat(5000) }) }, deliveries("big"), publish);
    expect(published.map((m) => JSON.parse(new TextDecoder().decode(m.data)).x)).toEqual([undefined, undefined, undefined, undefined]);
  });
});
