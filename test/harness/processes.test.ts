import { readFileSync, existsSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { spawnNode, stopAllProcesses } from "./processes.js";

const FIXTURE = "test/harness/fixtures/group-leader.ts";

function isGone(pid: number): boolean {
  if (!existsSync(`/proc/${pid}`)) return true;
  // A killed process whose parent died may linger as a zombie until init reaps it: dead all the same.
  return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
}

async function waitGone(pid: number, timeoutMs = 5000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (isGone(pid)) return true;
    await sleep(50);
  }
  return isGone(pid);
}

afterAll(() => stopAllProcesses());

describe("spawnNode", () => {
  it("runs a .ts entry point, collects JSON and text lines, and passes args and env", async () => {
    const p = spawnNode(FIXTURE, ["--flag"], { FIXTURE_VALUE: "xyz" }, { logFile: true });
    const ready = await p.waitForLine((l) => l.json?.msg === "ready", 20_000);
    expect(ready.json?.args).toEqual(["--flag"]);
    expect(ready.json?.env).toBe("xyz");
    await p.waitForLine("plain text on stderr");
    expect(p.lines.find((l) => l.stream === "stderr")?.json).toBeUndefined();
    const exit = await p.stop();
    expect(exit).toEqual({ code: 0, signal: null });
    expect(p.lines.some((l) => l.json?.msg === "bye")).toBe(true);
    expect(p.logPath).toBeDefined();
    expect(readFileSync(p.logPath!, "utf8")).toContain('"msg":"ready"');
  });

  it("kill signals the whole process group, grandchildren included", async () => {
    const p = spawnNode(FIXTURE);
    const ready = await p.waitForLine((l) => l.json?.msg === "ready", 20_000);
    const grandchild = ready.json?.grandchild as number;
    expect(grandchild).toBeGreaterThan(0);
    expect(isGone(grandchild)).toBe(false);
    p.kill("SIGKILL");
    expect(await p.exited).toEqual({ code: null, signal: "SIGKILL" });
    expect(p.running).toBe(false);
    expect(await waitGone(grandchild)).toBe(true);
    // Once exited, kill is a no-op: the group id may belong to someone else by now.
    expect(() => p.kill("SIGKILL")).not.toThrow();
  });

  it("waitForLine rejects when the process exits first, and reports the exit code", async () => {
    const p = spawnNode(FIXTURE, ["--exit-now"]);
    await expect(p.waitForLine("never printed", 20_000)).rejects.toThrow(/exited/);
    expect((await p.exited).code).toBe(3);
  });

  it("waitForLine times out with the output tail in the error", async () => {
    const p = spawnNode(FIXTURE);
    await p.waitForLine((l) => l.json?.msg === "ready", 20_000);
    await expect(p.waitForLine("never printed", 300)).rejects.toThrow(/within 300 ms[\s\S]*ready/);
    await p.stop();
  });
});
