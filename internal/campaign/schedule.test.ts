import { describe, expect, it } from "vitest";
import { Misfire } from "./model.js";
import { applyMisfire, cronError, isTimeZone, nextOccurrence, occurrencesBetween, type Occurrence } from "./schedule.js";

const iso = (o: { at: Date }[]) => o.map((x) => x.at.toISOString());

describe("cron occurrences with a time zone (croner)", () => {
  it("keeps 18:00 local across the autumn DST change (New York: 22:00Z, then 23:00Z)", () => {
    const occ = occurrencesBetween(
      { expression: "0 18 * * 5", timeZone: "America/New_York" },
      new Date("2025-10-25T00:00:00Z"),
      new Date("2025-11-15T00:00:00Z"),
    );
    expect(iso(occ)).toEqual(["2025-10-31T22:00:00.000Z", "2025-11-07T23:00:00.000Z", "2025-11-14T23:00:00.000Z"]);
    expect(occ.map((o) => o.localDate)).toEqual(["2025-10-31", "2025-11-07", "2025-11-14"]);
  });

  it("fires once on the spring-forward night when the local time does not exist (Berlin 02:30)", () => {
    const occ = occurrencesBetween(
      { expression: "30 2 * * *", timeZone: "Europe/Berlin" },
      new Date("2025-03-29T00:00:00Z"),
      new Date("2025-04-01T00:00:00Z"),
    );
    // 29th 02:30 CET, 30th (no 02:30: fires once, an hour later in wall time), 31st 02:30 CEST
    expect(iso(occ)).toEqual(["2025-03-29T01:30:00.000Z", "2025-03-30T01:30:00.000Z", "2025-03-31T00:30:00.000Z"]);
    expect(new Set(occ.map((o) => o.localDate)).size).toBe(3);
  });

  it("groups zones whose local time falls on the same instant, with the catch-all on the campaign's zone", () => {
    const occ = occurrencesBetween(
      { expression: "0 18 * * 5", timeZone: "Europe/Moscow", localZones: ["Europe/Moscow", "Europe/Istanbul", "Europe/Berlin", "Asia/Novosibirsk"] },
      new Date("2025-06-05T00:00:00Z"),
      new Date("2025-06-07T00:00:00Z"),
    );
    expect(iso(occ)).toEqual(["2025-06-06T11:00:00.000Z", "2025-06-06T15:00:00.000Z", "2025-06-06T16:00:00.000Z"]);
    expect(occ[1].zones.sort()).toEqual(["Europe/Istanbul", "Europe/Moscow"]);
    expect(occ[1].catchAll).toBe(true);
    expect(occ[0].catchAll).toBe(false);
    expect(occ[2].zones).toEqual(["Europe/Berlin"]);
  });

  it("stops at end_at and reports no next occurrence after it", () => {
    const plan = { expression: "0 * * * *", timeZone: "UTC", endAt: new Date("2025-01-01T03:30:00Z") };
    expect(occurrencesBetween(plan, new Date("2025-01-01T00:00:00Z"), new Date("2025-01-02T00:00:00Z"))).toHaveLength(3);
    expect(nextOccurrence(plan, new Date("2025-01-01T03:00:00Z"))).toBeNull();
    expect(nextOccurrence(plan, new Date("2025-01-01T01:10:00Z"))?.toISOString()).toBe("2025-01-01T02:00:00.000Z");
  });

  it("rejects bad expressions and unknown zones with a message", () => {
    expect(cronError("61 * * * *")).toMatch(/minute/);
    expect(cronError("* * *")).toMatch(/5 fields/);
    expect(cronError("0 18 * * 5")).toBeUndefined();
    expect(isTimeZone("Mars/Olympus_Mons")).toBe(false);
    expect(isTimeZone("Asia/Vladivostok")).toBe(true);
  });
});

describe("misfire policy", () => {
  const now = new Date("2025-01-10T12:00:00Z");
  const o = (at: string, zones = ["UTC"]): Occurrence => ({ at: new Date(at), zones, catchAll: false, localDate: at.slice(0, 10) });
  const missed = [o("2025-01-08T12:00:00Z"), o("2025-01-09T12:00:00Z")];

  it("fire_once runs only the latest missed occurrence", () => {
    const d = applyMisfire(missed, now, 60_000, Misfire.FireOnce);
    expect(iso(d.fire)).toEqual(["2025-01-09T12:00:00.000Z"]);
    expect(iso(d.skip)).toEqual(["2025-01-08T12:00:00.000Z"]);
  });

  it("skip runs none of them", () => {
    const d = applyMisfire(missed, now, 60_000, Misfire.Skip);
    expect(d.fire).toEqual([]);
    expect(d.skip).toHaveLength(2);
  });

  it("an occurrence within the grace period is on time, and covers the missed ones of its zone", () => {
    const d = applyMisfire([...missed, o("2025-01-10T11:59:30Z")], now, 60_000, Misfire.FireOnce);
    expect(iso(d.fire)).toEqual(["2025-01-10T11:59:30.000Z"]);
    expect(d.skip).toHaveLength(2);
  });

  it("regroups per zone so no zone gets two catch-up runs", () => {
    const d = applyMisfire([o("2025-01-08T12:00:00Z", ["A", "B"]), o("2025-01-09T12:00:00Z", ["A"])], now, 60_000, Misfire.FireOnce);
    expect(d.fire.map((x) => [x.at.toISOString(), x.zones])).toEqual([
      ["2025-01-08T12:00:00.000Z", ["B"]],
      ["2025-01-09T12:00:00.000Z", ["A"]],
    ]);
    expect(d.skip).toEqual([]);
  });
});
