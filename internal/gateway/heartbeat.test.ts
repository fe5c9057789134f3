import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createHeartbeat } from "./heartbeat.js";

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe("heartbeat", () => {
  it("visits every member once per period, a slice per tick instead of all at once", () => {
    const seen = new Map<number, number>();
    let perTick = 0;
    let maxPerTick = 0;
    const hb = createHeartbeat<number>({
      periodMs: 1000,
      visit: (m) => {
        seen.set(m, (seen.get(m) ?? 0) + 1);
        maxPerTick = Math.max(maxPerTick, ++perTick);
      },
    });
    for (let i = 0; i < 500; i++) hb.add(i);
    for (let t = 0; t < 10; t++) {
      perTick = 0;
      vi.advanceTimersByTime(100);
    }
    expect(seen.size).toBe(500);
    expect([...seen.values()].every((n) => n === 1)).toBe(true);
    // 10 slices of a 1 s period: 50 members a tick, not 500 in one.
    expect(maxPerTick).toBe(50);
    hb.stop();
  });

  it("forgets a member at once, also one that leaves during its own visit", () => {
    const visits: string[] = [];
    let hb!: ReturnType<typeof createHeartbeat<string>>;
    hb = createHeartbeat<string>({
      periodMs: 200,
      visit: (m) => {
        visits.push(m);
        if (m === "dead") hb.delete(m);
      },
    });
    for (const m of ["a", "b", "dead", "c"]) hb.add(m);
    hb.delete("b");
    vi.advanceTimersByTime(400);
    expect(visits.filter((m) => m === "dead")).toHaveLength(1);
    expect(visits).not.toContain("b");
    expect(visits.filter((m) => m === "a")).toHaveLength(2);
    hb.stop();
    vi.advanceTimersByTime(1000);
    expect(visits).toHaveLength(5);
  });
});
