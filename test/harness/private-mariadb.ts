import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import mysql from "mysql2/promise";
import { findBinary } from "./binaries.js";
import { freePort } from "./ports.js";
import { spawnProcess, type ManagedProcess } from "./processes.js";

// A MariaDB server of a test's own (own datadir, free loopback port, root without password), so chaos
// tests can SIGKILL and restart the database without touching the machine's shared one on 3306.

export interface PrivateMariaDb {
  /** mysql://root@127.0.0.1:PORT/ (no database). */
  readonly url: string;
  readonly port: number;
  /** Holds data/, the socket and mariadbd.log; kept across kill/restart. */
  readonly dir: string;
  readonly running: boolean;
  readonly process: ManagedProcess;
  /** The server URL with a database name, e.g. for NOTIFY_DB_URL. */
  urlFor(database: string): string;
  /** Signals mariadbd (SIGKILL by default: no clean shutdown) and waits until it is gone. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and datadir (stopping it first if it runs); crash recovery runs. */
  restart(): Promise<void>;
  /** Clean shutdown; removes the dir when the harness created it. */
  stop(): Promise<void>;
}

export interface MariaDbOptions {
  /** Parent dir for data/ and the socket; a fresh temporary one by default. */
  dir?: string;
  port?: number;
  /** Extra mariadbd arguments, e.g. ["--innodb-flush-log-at-trx-commit=2"]. */
  args?: string[];
  startTimeoutMs?: number;
}

const HINT = "apt-get install -y mariadb-server";

async function installDb(dir: string): Promise<void> {
  const bin = findBinary("mariadb-install-db", HINT);
  // --no-defaults: the machine's my.cnf (datadir, socket, user=mysql) would make the install fail.
  const proc = spawnProcess(
    bin,
    [
      "--no-defaults",
      `--datadir=${join(dir, "data")}`,
      "--user=root",
      "--auth-root-authentication-method=normal",
      "--skip-test-db",
    ],
    { name: "mariadb-install-db", logFile: join(dir, "install.log") },
  );
  const exit = await proc.exited;
  if (exit.code !== 0) throw new Error(`mariadb-install-db failed (${JSON.stringify(exit)})\n${proc.tail()}`);
}

function launch(dir: string, port: number, extra: string[]): ManagedProcess {
  const bin = findBinary("mariadbd", HINT);
  return spawnProcess(
    bin,
    [
      "--no-defaults",
      `--datadir=${join(dir, "data")}`,
      `--port=${port}`,
      "--bind-address=127.0.0.1",
      `--socket=${join(dir, "sock")}`,
      `--pid-file=${join(dir, "mariadbd.pid")}`,
      "--user=root",
      "--skip-name-resolve",
      // Lean enough for several instances on a 2-core test machine; durable commits stay on.
      "--innodb-buffer-pool-size=64M",
      "--max-connections=500",
      ...extra,
    ],
    { name: `mariadbd-${port}`, logFile: join(dir, "mariadbd.log") },
  );
}

async function waitReady(proc: ManagedProcess, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "";
  while (Date.now() < deadline) {
    if (!proc.running) throw new Error(`mariadbd exited during start-up\n${proc.tail()}`);
    try {
      const conn = await mysql.createConnection({ host: "127.0.0.1", port, user: "root", connectTimeout: 1000 });
      try {
        await conn.query("SELECT 1");
        return;
      } finally {
        await conn.end();
      }
    } catch (err) {
      lastErr = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
  throw new Error(`mariadbd on ${port} not ready within ${timeoutMs} ms (${lastErr})\n${proc.tail()}`);
}

function portInUse(proc: ManagedProcess): boolean {
  return proc.lines.some((l) => /Address already in use|errno: 98|error: 98/i.test(l.text));
}

/** Installs (when the dir is new) and starts a private mariadbd; resolves once root can log in. */
export async function startMariaDb(opts: MariaDbOptions = {}): Promise<PrivateMariaDb> {
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "mariadb-")));
  const timeoutMs = opts.startTimeoutMs ?? 60_000;
  const extra = opts.args ?? [];
  try {
    if (!existsSync(join(dir, "data", "mysql"))) await installDb(dir);
  } catch (err) {
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let port = opts.port ?? (await freePort());
  let proc = launch(dir, port, extra);

  // Retries while the port is busy: on first start with a new free port (unless one was given), on
  // restart with the same one (it may still be held for a moment after a kill).
  const startWithRetry = async (allowNewPort: boolean) => {
    for (let attempt = 0; ; attempt++) {
      try {
        await waitReady(proc, port, timeoutMs);
        return;
      } catch (err) {
        if (!portInUse(proc) || attempt >= 20) throw err;
        proc.kill("SIGKILL");
        await proc.exited;
        if (allowNewPort) port = await freePort();
        else await sleep(250);
        proc = launch(dir, port, extra);
      }
    }
  };

  try {
    await startWithRetry(opts.port === undefined);
  } catch (err) {
    proc.kill("SIGKILL");
    await proc.exited;
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }

  const url = `mysql://root@127.0.0.1:${port}/`;
  return {
    url,
    port,
    dir,
    get running() {
      return proc.running;
    },
    get process() {
      return proc;
    },
    urlFor: (database) => `${url}${database}`,
    async kill(signal = "SIGKILL") {
      proc.kill(signal);
      await proc.exited;
    },
    async restart() {
      if (proc.running) await proc.stop({ timeoutMs: 30_000 });
      proc = launch(dir, port, extra);
      await startWithRetry(false);
    },
    async stop() {
      await proc.stop({ timeoutMs: 30_000 });
      if (ownsDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
