// npm run bench — every benchmark in one run, each with its raw baseline, and a report a reader can trust:
// bench/results/<date>.md and .json with the machine facts and every scenario's printed table.
// Benchmarks report; they do not gate: a missed target is printed, and the run still exits 0.
import { spawnSync, execSync } from "node:child_process";
import { cpus, totalmem, loadavg } from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { waitForQuiet } from "./lib/stats.js";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SCENARIOS: { name: string; script: string; env?: Record<string, string> }[] = [
  { name: "instant email + ingest", script: "bench/instant.ts" },
  // The same path with the API process also running the workers: it delivers the Sends it accepts
  // (internal/delivery/local.ts) and the second process takes what the broker carries.
  { name: "instant email, the api process also a worker", script: "bench/instant.ts", env: { BENCH_ROLES: "api,planner,worker;relay,worker" } },
  { name: "websocket", script: "bench/ws.ts" },
  { name: "recovery (breaker ramp)", script: "bench/recovery.ts" },
  // Last: MariaDB purges a 100k campaign's rows in bursts for minutes afterwards, which the quiet-machine
  // wait does not always see coming, and the latency scenarios must not measure that.
  { name: "campaign (personalised, memory, user-service caps, publish rate)", script: "bench/campaign.ts" },
];

function version(cmd: string): string {
  try {
    return execSync(cmd, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim().split("\n")[0];
  } catch {
    return "unknown";
  }
}

const only = process.argv.slice(2);
const facts = {
  date: new Date().toISOString(),
  cores: cpus().length,
  cpu: cpus()[0]?.model ?? "",
  memoryGiB: +(totalmem() / 2 ** 30).toFixed(1),
  node: process.version,
  mariadb: version("mariadb --version"),
  nats: version("nats-server --version"),
  loadAtStart: loadavg().map((x) => x.toFixed(2)).join(" "),
};
const results: { name: string; script: string; exitCode: number | null; seconds: number; output: string }[] = [];
for (const s of SCENARIOS) {
  if (only.length && !only.some((o) => s.script.includes(o))) continue;
  process.stdout.write(`\n=== ${s.name} (${s.script})\n`);
  const waited = await waitForQuiet();
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, s.script)], {
    cwd: ROOT,
    env: { ...process.env, ...s.env },
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    timeout: 30 * 60_000,
  });
  const output = `(started after ${waited} s of waiting for the machine to be quiet)\n${r.stdout ?? ""}${r.status === 0 ? "" : `\n${(r.stderr ?? "").split("\n").slice(-20).join("\n")}`}`;
  process.stdout.write(output);
  results.push({ name: s.name, script: s.script, exitCode: r.status, seconds: Math.round((Date.now() - t0) / 1000), output });
}

const day = facts.date.slice(0, 10);
const dir = join(ROOT, "bench", "results");
mkdirSync(dir, { recursive: true });
const md = [
  `# Benchmarks, ${facts.date}`,
  "",
  `Machine: ${facts.cores} cores (${facts.cpu}), ${facts.memoryGiB} GiB, Node ${facts.node}, ${facts.mariadb}, ${facts.nats}; load at start ${facts.loadAtStart}.`,
  "Each scenario runs its raw baseline in the same run; compare the ratios, not absolute numbers.",
  "",
  ...results.flatMap((r) => [
    `## ${r.name}`,
    "",
    `\`${r.script}\` — ${r.seconds} s${r.exitCode === 0 ? "" : `, exited ${r.exitCode} (see output)`}`,
    "",
    "```",
    r.output.trim(),
    "```",
    "",
  ]),
].join("\n");
writeFileSync(join(dir, `${day}.md`), md);
writeFileSync(join(dir, `${day}.json`), JSON.stringify({ facts, results }, null, 2));
process.stdout.write(`\nreport: bench/results/${day}.md\n`);
