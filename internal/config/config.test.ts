import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";

describe("heap growth", () => {
  it("defaults to 100% (a full collection when the heap doubles its live data); 0 hands the choice back to V8", () => {
    expect(loadConfig({}).heapGrowthPercent).toBe(100);
    expect(loadConfig({ NOTIFY_HEAP_GROWTH: "0" }).heapGrowthPercent).toBe(0);
    expect(loadConfig({ NOTIFY_HEAP_GROWTH: "250" }).heapGrowthPercent).toBe(250);
  });

  it("refuses a value that is not a percentage in range, naming the variable", () => {
    for (const bad of ["-1", "401", "1.5", "lots"]) {
      expect(() => loadConfig({ NOTIFY_HEAP_GROWTH: bad })).toThrow(ConfigError);
      expect(() => loadConfig({ NOTIFY_HEAP_GROWTH: bad })).toThrow(/NOTIFY_HEAP_GROWTH/);
    }
  });
});
