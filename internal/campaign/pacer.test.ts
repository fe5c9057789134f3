import { describe, expect, it } from "vitest";
import { createPacer, FanoutStopped } from "./pacer.js";

async function spend(p: ReturnType<typeof createPacer>, ms: number): Promise<number> {
  const end = performance.now() + ms;
  let n = 0;
  while (performance.now() < end) n += await p.take(50);
  return n;
}

describe("the fan-out's token bucket", () => {
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

  it("stops a waiting take within 100 ms when the check throws (pause, cancel)", async () => {
    let paused = false;
    const p = createPacer({
      rate: () => 1,
      check: () => {
        if (paused) throw new FanoutStopped("paused");
      },
    });
    await p.take(1);
    const waiting = p.take(1);
    const t0 = performance.now();
    paused = true;
    await expect(waiting).rejects.toBeInstanceOf(FanoutStopped);
    expect(performance.now() - t0).toBeLessThan(150);
  });
});
