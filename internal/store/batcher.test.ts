import { describe, expect, it } from "vitest";
import { createBatcher } from "./batcher.js";

describe("createBatcher", () => {
  it("runs calls made in the same turn as one batch, each caller getting its own result", async () => {
    const batches: number[][] = [];
    const double = createBatcher<number, number>({
      run: async (xs) => {
        batches.push(xs);
        return xs.map((x) => x * 2);
      },
    });
    const out = await Promise.all([1, 2, 3].map(double));
    expect(out).toEqual([2, 4, 6]);
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it("splits at maxItems and waits maxDelayMs for more", async () => {
    const batches: number[][] = [];
    const echo = createBatcher<number, number>({
      maxItems: 2,
      maxDelayMs: 20,
      run: async (xs) => {
        batches.push(xs);
        return xs;
      },
    });
    const first = Promise.all([echo(1), echo(2), echo(3)]);
    await new Promise((r) => setTimeout(r, 5));
    const late = echo(4);
    expect(await first).toEqual([1, 2, 3]);
    expect(await late).toBe(4);
    expect(batches).toEqual([[1, 2], [3, 4]]);
  });

  it("rejects every caller of a failed batch and keeps working afterwards", async () => {
    let fail = true;
    const f = createBatcher<number, number>({
      run: async (xs) => {
        if (fail) throw new Error("db down");
        return xs;
      },
    });
    const r = await Promise.allSettled([f(1), f(2)]);
    expect(r.map((x) => x.status)).toEqual(["rejected", "rejected"]);
    fail = false;
    expect(await f(3)).toBe(3);
  });

  it("rejects when run returns the wrong number of results", async () => {
    const f = createBatcher<number, number>({ run: async () => [] });
    await expect(f(1)).rejects.toThrow(/0 results for 1/);
  });
});

describe("createBatcher with maxConcurrent", () => {
  it("gathers the calls made while a batch is under way into the next one", async () => {
    const batches: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const f = createBatcher<number, number>({
      maxConcurrent: 1,
      run: async (xs) => {
        batches.push(xs);
        if (batches.length === 1) await gate;
        return xs;
      },
    });
    const first = f(1);
    await new Promise((r) => setImmediate(r));
    const rest = [f(2), f(3)];
    await new Promise((r) => setTimeout(r, 5));
    expect(batches).toEqual([[1]]);
    release();
    expect(await Promise.all([first, ...rest])).toEqual([1, 2, 3]);
    expect(batches).toEqual([[1], [2, 3]]);
  });
});
