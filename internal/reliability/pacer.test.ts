import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createPacer } from "./pacer.js";

// The bucket's arithmetic is tested on a fake clock: on a busy machine real timers fire late, and the
// test would measure the machine instead of the pacer.
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** Tokens taken in `ms` of (fake) time by a caller that takes whenever it can. */
async function spend(p: ReturnType<typeof createPacer>, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  let done = false;
  const loop = (async () => {
    for (;;) {
      const got = await p.take(50);
      if (performance.now() > end) break;
      n += got;
    }
    done = true;
  })();
  await vi.advanceTimersByTimeAsync(ms);
  // Only as far as the take under way needs: idle time would fill the bucket for the next phase.
  while (!done) await vi.advanceTimersByTimeAsync(1);
  await loop;
  return n;
}

describe("the token bucket (campaign fan-out, SMTP rate)", () => {
  it("hands out tokens at the rate, and follows a rate change at once", async () => {
    let rate = 200;
    const p = createPacer({ rate: () => rate });
    const slow = await spend(p, 1000);
    expect(slow).toBeGreaterThan(170);
    expect(slow).toBeLessThan(230);
    rate = 1000;
    const fast = await spend(p, 1000);
    expect(fast).toBeGreaterThan(880);
    expect(fast).toBeLessThan(1120);
  });

  it("lets at most the burst allowance through after an idle spell", async () => {
    const p = createPacer({ rate: () => 100, burstSeconds: 0.5 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(await p.take(1000)).toBe(50);
  });

  it("stops a waiting take within 100 ms when the check throws (pause, cancel)", async () => {
    let paused = false;
    const p = createPacer({
      rate: () => 1,
      check: () => {
        if (paused) throw new Error("paused");
      },
    });
    const first = p.take(1);
    await vi.advanceTimersByTimeAsync(1100);
    await first;
    const waiting = p.take(1);
    const settled = expect(waiting).rejects.toThrow("paused");
    const t0 = performance.now();
    paused = true;
    await vi.advanceTimersByTimeAsync(100);
    await settled;
    expect(performance.now() - t0).toBeLessThanOrEqual(100);
  });
});
