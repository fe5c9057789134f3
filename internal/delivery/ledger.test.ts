import { beforeAll, describe, expect, it } from "vitest";
import type { Db } from "../store/db.js";
import { useTestDatabase } from "../../test/harness/database.js";
import { DeliveryState } from "../notification/model.js";
import { createLedger } from "./ledger.js";

const testDb = useTestDatabase("ledger");
let db: Db;

const row = (id: string, status: number, extra: { lease?: string; hold?: string; attempts?: number } = {}) =>
  db.execute(
    `INSERT INTO deliveries (id, notification_id, recipient, channel, status, attempts, lease_until, not_before, created_at, updated_at)
     VALUES (?, 'n', ?, 'email', ?, ?, ${extra.lease ?? "NULL"}, ${extra.hold ?? "NULL"}, NOW(3), NOW(3))`,
    [id, id, status, extra.attempts ?? 0],
  );

beforeAll(() => {
  db = testDb.db;
});

/** One row per claim case: pending, a lease run out (after `expiredAttempts`), leased, sent, held. */
async function claimCases(prefix: string, expiredAttempts: number) {
  await row(`${prefix}pending`, DeliveryState.Pending);
  await row(`${prefix}expired`, DeliveryState.Sending, { lease: "NOW(3) - INTERVAL 1 SECOND", attempts: expiredAttempts });
  await row(`${prefix}leased`, DeliveryState.Sending, { lease: "NOW(3) + INTERVAL 60 SECOND", attempts: 1 });
  await row(`${prefix}sent`, DeliveryState.Sent, { attempts: 1 });
  await row(`${prefix}held`, DeliveryState.Pending, { hold: "NOW(3) + INTERVAL 60 SECOND" });
}

describe("ledger batches", () => {
  it("decides each claim of a batch on its own row, and lets only one copy of a delivery win", async () => {
    await claimCases("", 1);
    const ledger = createLedger(db, 60_000);
    const ids = ["pending", "expired", "leased", "sent", "held", "missing", "pending"];
    const out = await Promise.all(ids.map((id) => ledger.claim(id)));
    expect(out.map((o) => o.kind)).toEqual(["claimed", "claimed", "busy", "done", "held", "missing", "busy"]);
    expect(out[0]).toEqual({ kind: "claimed", uncertain: false, attempts: 1 });
    expect(out[1]).toEqual({ kind: "claimed", uncertain: true, attempts: 2 });
    const [rows] = (await db.query("SELECT id, status, attempts, resent_after_uncertain AS r, lease_until > NOW(3) AS leased FROM deliveries ORDER BY id")) as unknown as [
      { id: string; status: number; attempts: number; r: number; leased: number | null }[],
    ];
    const by = Object.fromEntries(rows.map((r) => [r.id, r]));
    expect(by.pending).toMatchObject({ status: DeliveryState.Sending, attempts: 1, r: 0, leased: 1 });
    expect(by.expired).toMatchObject({ status: DeliveryState.Sending, attempts: 2, r: 1, leased: 1 });
    expect(by.leased).toMatchObject({ status: DeliveryState.Sending, attempts: 1, r: 0 });
    expect(by.held).toMatchObject({ status: DeliveryState.Pending, attempts: 0 });

    // A second claim of a row claimed above is busy, one at a time as in a batch.
    expect((await ledger.claim("pending")).kind).toBe("busy");

    await Promise.all([ledger.sent("pending", "<pending@x>", "attempt 1"), ledger.sent("expired", "<expired@x>", "attempt 2")]);
    const [sent] = (await db.query("SELECT id, status, message_id FROM deliveries WHERE id IN ('pending', 'expired') ORDER BY id")) as unknown as [
      { id: string; status: number; message_id: string }[],
    ];
    expect(sent).toEqual([
      { id: "expired", status: DeliveryState.Sent, message_id: "<expired@x>" },
      { id: "pending", status: DeliveryState.Sent, message_id: "<pending@x>" },
    ]);
    const [events] = (await db.query("SELECT delivery_id, status, detail FROM delivery_events ORDER BY delivery_id")) as unknown as [unknown[]];
    expect(events).toEqual([
      { delivery_id: "expired", status: DeliveryState.Sent, detail: "attempt 2" },
      { delivery_id: "pending", status: DeliveryState.Sent, detail: "attempt 1" },
    ]);
  });

  it("decides a claim made on its own the same way, and lets one of two racing ledgers win", async () => {
    await claimCases("one-", 3);
    await row("one-due", DeliveryState.Pending, { hold: "NOW(3) - INTERVAL 1 SECOND" });
    const ledger = createLedger(db, 60_000);
    // One at a time, so each claim is a batch of one.
    const out = [];
    for (const id of ["one-pending", "one-expired", "one-leased", "one-sent", "one-held", "one-due", "one-missing", "one-pending"]) out.push(await ledger.claim(id));
    expect(out).toEqual([
      { kind: "claimed", uncertain: false, attempts: 1 },
      { kind: "claimed", uncertain: true, attempts: 4 },
      { kind: "busy", retryInMs: expect.any(Number) },
      { kind: "done", status: DeliveryState.Sent },
      { kind: "held", retryInMs: expect.any(Number) },
      { kind: "claimed", uncertain: false, attempts: 1 },
      { kind: "missing" },
      { kind: "busy", retryInMs: expect.any(Number) },
    ]);
    expect((out[4] as { retryInMs: number }).retryInMs).toBeGreaterThan(50_000);
    const [[expired]] = (await db.query("SELECT status, attempts, resent_after_uncertain AS r FROM deliveries WHERE id = 'one-expired'")) as unknown as [
      { status: number; attempts: number; r: number }[],
    ];
    expect(expired).toEqual({ status: DeliveryState.Sending, attempts: 4, r: 1 });

    // Two workers (two ledgers, so two batchers) claiming the same row at once: exactly one wins.
    for (let i = 0; i < 10; i++) {
      await row(`race-${i}`, DeliveryState.Pending);
      const both = await Promise.all([createLedger(db, 60_000).claim(`race-${i}`), createLedger(db, 60_000).claim(`race-${i}`)]);
      expect(both.map((r) => r.kind).sort()).toEqual(["busy", "claimed"]);
    }
  });
});

describe("ledger finish", () => {
  it("ends open deliveries with their history, and leaves final ones as they are", async () => {
    await row("f-pending", DeliveryState.Pending);
    await row("f-sending", DeliveryState.Sending, { lease: "NOW(3) + INTERVAL 60 SECOND", attempts: 1 });
    await row("f-cancelled", DeliveryState.Cancelled);
    await row("f-sent", DeliveryState.Sent, { attempts: 1 });
    const ledger = createLedger(db, 60_000);
    const ended = await Promise.all(
      ["f-pending", "f-sending", "f-cancelled", "f-sent"].map((id) => ledger.finish(id, DeliveryState.Dead, "retries exhausted")),
    );
    expect(ended).toEqual([true, true, false, false]);
    const [rows] = (await db.query("SELECT id, status FROM deliveries WHERE id LIKE 'f-%' ORDER BY id")) as unknown as [unknown[]];
    expect(rows).toEqual([
      { id: "f-cancelled", status: DeliveryState.Cancelled },
      { id: "f-pending", status: DeliveryState.Dead },
      { id: "f-sending", status: DeliveryState.Dead },
      { id: "f-sent", status: DeliveryState.Sent },
    ]);
    const [events] = (await db.query("SELECT delivery_id FROM delivery_events WHERE delivery_id LIKE 'f-%' ORDER BY delivery_id")) as unknown as [unknown[]];
    expect(events).toEqual([{ delivery_id: "f-pending" }, { delivery_id: "f-sending" }]);
  });
});
