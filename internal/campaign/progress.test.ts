import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { sleep } from "./progress.js";

describe("the progress stream's wait", () => {
  it("leaves no abort listener behind however many times it waits on one signal", async () => {
    const ac = new AbortController();
    for (let i = 0; i < 15; i++) await sleep(1, ac.signal);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });

  it("ends early when the client goes away", async () => {
    const ac = new AbortController();
    const t0 = performance.now();
    const wait = sleep(10_000, ac.signal);
    setTimeout(() => ac.abort(), 20);
    await wait;
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(getEventListeners(ac.signal, "abort")).toHaveLength(0);
  });
});
