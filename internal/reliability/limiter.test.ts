import { describe, expect, it } from "vitest";
import { createCallLimiter } from "./limiter.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("call limiter", () => {
  it("starts a call at once when under its caps (no timer hop in front of it)", async () => {
    const l = createCallLimiter({ concurrency: 4, rate: 1000 });
    let started = false;
    const p = l.schedule(async () => {
      started = true;
      return 7;
    });
    // Synchronously: schedule() ran the call in the same turn.
    expect(started).toBe(true);
    await expect(p).resolves.toBe(7);
  });

  it("never has more than `concurrency` calls under way, and runs them in order", async () => {
    const l = createCallLimiter({ concurrency: 3, rate: 100_000 });
    let now = 0;
    let max = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        l.schedule(async () => {
          order.push(i);
          max = Math.max(max, ++now);
          await sleep(5);
          now--;
        }),
      ),
    );
    expect(max).toBe(3);
    expect(order).toEqual([...Array(20).keys()]);
    expect(l.running).toBe(0);
    expect(l.queued).toBe(0);
  });

  it("spaces starts at 1000/rate ms, and a new rate applies to the next start", async () => {
    const l = createCallLimiter({ concurrency: 100, rate: 50 });
    const starts: number[] = [];
    const job = () => l.schedule(async () => void starts.push(performance.now()));
    await Promise.all(Array.from({ length: 6 }, job));
    const gaps = starts.slice(1).map((t, i) => t - starts[i]);
    for (const g of gaps) expect(g).toBeGreaterThanOrEqual(19);
    expect(starts.at(-1)! - starts[0]).toBeLessThan(5 * 20 + 60);

    l.setRate(500);
    starts.length = 0;
    await Promise.all(Array.from({ length: 6 }, job));
    expect(starts.at(-1)! - starts[0]).toBeLessThan(5 * 20);
    for (const g of starts.slice(1).map((t, i) => t - starts[i])) expect(g).toBeGreaterThanOrEqual(1.9);
  });

  it("settles as the call does, tells observers, and a call that throws synchronously frees its slot", async () => {
    const l = createCallLimiter({ concurrency: 1, rate: 10_000 });
    const seen: boolean[] = [];
    const stop = l.observe((_ms, ok) => seen.push(ok));
    await expect(l.schedule(() => Promise.reject(new Error("down")))).rejects.toThrow("down");
    await expect(
      l.schedule(() => {
        throw new Error("sync");
      }),
    ).rejects.toThrow("sync");
    await expect(l.schedule(async () => "ok")).resolves.toBe("ok");
    stop();
    await l.schedule(async () => 1);
    expect(seen).toEqual([false, false, true]);
  });

  it("refuses caps that are not caps", () => {
    expect(() => createCallLimiter({ concurrency: 0, rate: 1 })).toThrow(/concurrency/);
    expect(() => createCallLimiter({ concurrency: 1, rate: 0 })).toThrow(/rate/);
    expect(() => createCallLimiter({ concurrency: 1, rate: 1 }).setRate(-1)).toThrow(/rate/);
  });
});
