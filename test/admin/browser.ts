import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { REPO_ROOT } from "../harness/processes.js";

const CHROMIUM = "/usr/bin/chromium";

// The flags this machine needs: no sandbox as root, and no background traffic to the closed network.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-dev-shm-usage",
];

function shout(msg: string) {
  const line = "#".repeat(78);
  process.stderr.write(`\n${line}\n#  ${msg}\n${line}\n\n`);
}

/**
 * Debian's Chromium, installed with apt when missing and possible. Undefined (and a loud message) when
 * the browser tests must be skipped: NOTIFY_SKIP_BROWSER=1 (scripts/test.sh could not install it) or
 * no way to install it here.
 */
export function ensureChromium(): string | undefined {
  if (process.env.NOTIFY_SKIP_BROWSER === "1") {
    shout("BROWSER TESTS SKIPPED: NOTIFY_SKIP_BROWSER=1 (chromium could not be installed)");
    return undefined;
  }
  if (existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() === 0 && existsSync("/usr/bin/apt-get")) {
    const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
    const opts = { env, stdio: "ignore" as const, timeout: 600_000 };
    spawnSync("apt-get", ["-o", "DPkg::Lock::Timeout=300", "update"], opts);
    spawnSync("apt-get", ["-o", "DPkg::Lock::Timeout=300", "install", "-y", "chromium"], opts);
    if (existsSync(CHROMIUM)) return CHROMIUM;
  }
  shout("BROWSER TESTS SKIPPED: chromium is missing; install it with: apt-get update && apt-get install -y chromium");
  return undefined;
}

export function launchChromium(executablePath: string): Promise<Browser> {
  return chromium.launch({ executablePath, headless: true, args: FLAGS, timeout: 30_000 });
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds web/admin/dist when it is missing or older than the panel's sources or generated code. */
export function ensureAdminBuilt(): void {
  const web = join(REPO_ROOT, "web", "admin");
  const built = join(web, "dist", "index.html");
  const sources = Math.max(
    newestMtime(join(web, "src")),
    statSync(join(web, "index.html")).mtimeMs,
    statSync(join(web, "vite.config.ts")).mtimeMs,
    newestMtime(join(REPO_ROOT, "gen", "notify")),
  );
  if (existsSync(built) && statSync(built).mtimeMs >= sources) return;
  execFileSync("npm", ["run", "--silent", "build:admin"], { cwd: REPO_ROOT, stdio: "inherit", timeout: 180_000 });
}
