import { afterEach, describe, expect, it, vi } from "vitest";
import { createLogger } from "../log/logger.js";
import { allAvailable, anyAvailable, createAvailability } from "./availability.js";
import { createBreaker } from "./breaker.js";
import { createRamp } from "./ramp.js";

const log = createLogger({ level: "silent", name: "breaker-test" });

afterEach(() => {
  vi.useRealTimers();
});

describe("circuit breaker", () => {
  it("opens after N failures in the window, probes while open, closes when a probe succeeds", async () => {
    vi.useFakeTimers();
    let healthy = false;
    let probes = 0;
    const b = createBreaker({
      name: "dep",
      threshold: 3,
      windowMs: 10_000,
      probeMs: 1000,
      log,
      probe: async () => {
        probes++;
        if (!healthy) throw new Error("still down");
      },
    });
    const changes: boolean[] = [];
    b.onChange((v) => changes.push(v));
    b.failure(new Error("x"));
    b.failure(new Error("x"));
    expect(b.state).toBe("closed");
    b.failure(new Error("x"));
    expect(b.state).toBe("open");
    expect(b.available).toBe(false);
    await vi.advanceTimersByTimeAsync(3500);
    expect(probes).toBe(3);
    expect(b.state).toBe("open");
    healthy = true;
    await vi.advanceTimersByTimeAsync(1000);
    expect(b.state).toBe("closed");
    expect(changes).toEqual([false, true]);
    await vi.advanceTimersByTimeAsync(5000);
    expect(probes).toBe(4);
    b.close();
  });

  it("forgets failures older than the window", () => {
    vi.useFakeTimers();
    const b = createBreaker({ name: "dep", threshold: 3, windowMs: 2000, probeMs: 1000, log, probe: async () => undefined });
    b.failure(new Error("x"));
    b.failure(new Error("x"));
    vi.advanceTimersByTime(2600);
    b.failure(new Error("x"));
    expect(b.state).toBe("closed");
    b.failure(new Error("x"));
    b.failure(new Error("x"));
    expect(b.state).toBe("open");
    b.close();
  });

  it("does not open on a few failures among many successes", () => {
    const b = createBreaker({ name: "dep", threshold: 3, windowMs: 10_000, probeMs: 1000, log, probe: async () => undefined });
    for (let i = 0; i < 100; i++) b.success();
    for (let i = 0; i < 10; i++) b.failure(new Error("one bad mailbox"));
    expect(b.state).toBe("closed");
    expect(b.status().failures).toBe(10);
    b.close();
  });

  it("wakes waiters when it closes and lets an aborted wait go", async () => {
    vi.useFakeTimers();
    let healthy = false;
    const b = createBreaker({ name: "dep", threshold: 1, windowMs: 1000, probeMs: 100, log, probe: async () => void (healthy || (() => { throw new Error("down"); })()) });
    b.failure(new Error("x"));
    const ac = new AbortController();
    const aborted = b.whenAvailable(ac.signal).then(() => "resolved", () => "aborted");
    let woke = false;
    const waiting = b.whenAvailable().then(() => (woke = true));
    ac.abort();
    expect(await aborted).toBe("aborted");
    await vi.advanceTimersByTimeAsync(300);
    expect(woke).toBe(false);
    healthy = true;
    await vi.advanceTimersByTimeAsync(100);
    await waiting;
    expect(woke).toBe(true);
    b.close();
  });
});

describe("availability combinations", () => {
  it("any: a channel is up while one relay is; all: a worker needs every dependency", () => {
    const primary = createAvailability(true);
    const fallback = createAvailability(true);
    const users = createAvailability(true);
    const channel = anyAvailable([primary, fallback]);
    const worker = allAvailable([channel, users]);
    primary.set(false);
    expect(channel.available).toBe(true);
    fallback.set(false);
    expect(channel.available).toBe(false);
    expect(worker.available).toBe(false);
    fallback.set(true);
    expect(worker.available).toBe(true);
    users.set(false);
    expect(worker.available).toBe(false);
  });
});

describe("ramp", () => {
  it("climbs linearly from the start share to full over the duration", async () => {
    vi.useFakeTimers();
    const seen: number[] = [];
    const r = createRamp({ startFraction: 0.1, durationMs: 10_000, stepMs: 1000, apply: (f) => seen.push(Math.round(f * 100)) });
    r.start();
    expect(r.ramping).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(r.ramping).toBe(false);
    expect(seen[0]).toBe(10);
    expect(seen.at(-1)).toBe(100);
    expect(seen[5]).toBeGreaterThanOrEqual(50);
    expect(seen[5]).toBeLessThanOrEqual(60);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
  });
});
