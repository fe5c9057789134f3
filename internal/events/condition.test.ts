import { describe, expect, it } from "vitest";
import { checkCondition, matches } from "./condition.js";

const fields = { event_id: "e1", user_id: "u1", data: { plan: "premium", days: 3, trial: false } };

describe("rule conditions", () => {
  it("matches equality, lists and nested fields", () => {
    expect(matches(undefined, fields)).toBe(true);
    expect(matches({}, fields)).toBe(true);
    expect(matches({ "data.plan": "premium" }, fields)).toBe(true);
    expect(matches({ "data.plan": ["gold", "premium"] }, fields)).toBe(true);
    expect(matches({ "data.plan": "premium", "data.days": 3 }, fields)).toBe(true);
    expect(matches({ "data.plan": "premium", "data.days": 4 }, fields)).toBe(false);
    expect(matches({ "data.plan": "3" }, { data: { plan: 3 } })).toBe(false);
    expect(matches({ "data.missing.deeper": "x" }, fields)).toBe(false);
  });

  it("treats an absent field as its proto3 default", () => {
    expect(matches({ locale: "" }, fields)).toBe(true);
    expect(matches({ year: 0 }, fields)).toBe(true);
    expect(matches({ locale: "en" }, fields)).toBe(false);
  });

  it("refuses anything but field paths mapped to plain values", () => {
    expect(checkCondition({ "data.plan": "x", n: [1, 2] })).toEqual([]);
    expect(checkCondition({ "a b": 1 })[0]).toContain("condition.a b");
    expect(checkCondition({ x: { $where: "1" } })[0]).toContain("condition.x");
    expect(checkCondition({ x: [] })[0]).toContain("1..100");
    expect(checkCondition({ x: [{ y: 1 }] })[0]).toContain("list values");
    expect(checkCondition({ "__proto__.polluted": 1 })).toEqual([]);
    expect(matches({ "__proto__.polluted": 1 }, fields)).toBe(false);
  });
});
