import { readdirSync, readFileSync } from "node:fs";

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

/** CPU time (user + system, ms) a process has used, from /proc. */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / 100;
}

/** Resident set size (KiB) of a process. */
export function rssKiB(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

export function table(rows: Record<string, string | number>[]): string {
  if (rows.length === 0) return "";
  const cols = Object.keys(rows[0]);
  const fmt = (v: string | number) => (typeof v === "number" ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : v);
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => fmt(r[c] ?? "").length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(cols), line(widths.map((w) => "-".repeat(w))), ...rows.map((r) => line(cols.map((c) => fmt(r[c] ?? ""))))].join("\n");
}

/** Pids of running processes whose command name is `comm` (read-only: to report a service's CPU). */
export function pidsNamed(comm: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, "utf8").trim() === comm) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** CPU time (ms) of a set of processes, summed; a process that exited counts as 0. */
export function cpuMsOf(pids: number[]): number {
  let sum = 0;
  for (const p of pids) {
    try {
      sum += cpuMs(p);
    } catch {
      // exited
    }
  }
  return sum;
}

/** Busy share (0..1) of all cores over `ms`, from /proc/stat. */
export async function machineBusy(ms: number): Promise<number> {
  const read = () => {
    const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1, 9).map(Number);
    return { total: f.reduce((a, b) => a + b, 0), idle: f[3] + f[4] };
  };
  const a = read();
  await new Promise((r) => setTimeout(r, ms));
  const b = read();
  const total = b.total - a.total;
  return total > 0 ? 1 - (b.idle - a.idle) / total : 0;
}

/**
 * Waits until the machine has been quiet (below `threshold` busy) for `seconds` in a row, at most
 * `maxSeconds`: a scenario should not measure the one before it (MariaDB purging the rows of a dropped
 * database, for minutes after a 100k campaign). Returns the seconds waited.
 */
export async function waitForQuiet(o: { threshold?: number; seconds?: number; maxSeconds?: number } = {}): Promise<number> {
  const { threshold = 0.2, seconds = 3, maxSeconds = 120 } = o;
  let quiet = 0;
  let waited = 0;
  while (quiet < seconds && waited < maxSeconds) {
    quiet = (await machineBusy(1000)) < threshold ? quiet + 1 : 0;
    waited++;
  }
  return waited;
}
