import { spawn } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";

/** The repository root (this file lives in test/harness/). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const ARTIFACTS_DIR = join(REPO_ROOT, "test-artifacts");

export interface OutputLine {
  stream: "stdout" | "stderr";
  text: string;
  /** The parsed line when it is a JSON object (pino logs). */
  json?: Record<string, unknown>;
  at: number;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export type LineMatcher = string | RegExp | ((line: OutputLine) => boolean);

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  /** Lines seen so far (the newest `maxLines`; the log file, if any, has all of them). */
  readonly lines: readonly OutputLine[];
  readonly logPath?: string;
  readonly running: boolean;
  /** Resolves when the process has exited (never rejects). */
  readonly exited: Promise<ExitInfo>;
  /**
   * Resolves with the first line (already seen or future) that matches; rejects on timeout or when
   * the process exits first. A string matches as a substring of the raw line.
   */
  waitForLine(match: LineMatcher, timeoutMs?: number): Promise<OutputLine>;
  /** Signals the whole process group (the process and anything it spawned). No-op once it exited. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM (or `signal`), then SIGKILL after `timeoutMs`; resolves with the exit. */
  stop(opts?: { signal?: NodeJS.Signals; timeoutMs?: number }): Promise<ExitInfo>;
  /** The last `n` lines as text, for error messages. */
  tail(n?: number): string;
}

export interface SpawnOptions {
  /** Shown in errors and used in the log file name. */
  name?: string;
  cwd?: string;
  /** Added to (and overriding) the parent's environment, unless inheritEnv is false. */
  env?: Record<string, string | undefined>;
  inheritEnv?: boolean;
  /** true: test-artifacts/<name>-<pid>.log; a string: that path. */
  logFile?: boolean | string;
  maxLines?: number;
}

const running = new Set<ManagedProcess>();

// A test runner that dies must not leave servers behind: SIGKILL the groups we started, and only those.
process.once("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

function matcher(m: LineMatcher): (l: OutputLine) => boolean {
  if (typeof m === "string") return (l) => l.text.includes(m);
  if (m instanceof RegExp) return (l) => m.test(l.text);
  return m;
}

/**
 * The environment for a child process: this process's, with overrides; an override of undefined
 * removes the variable (e.g. a developer's NOTIFY_API_KEY must not leak into a test's child).
 */
export function childEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(overrides)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/**
 * Starts `command` detached in its own process group and tracks its output. Everything this harness
 * starts goes through here, so `kill` can only ever reach process groups the harness created.
 */
export function spawnProcess(command: string, args: string[], opts: SpawnOptions = {}): ManagedProcess {
  const name = opts.name ?? command.split("/").pop() ?? command;
  const env = opts.inheritEnv === false ? { ...opts.env } : childEnv(opts.env);
  const child = spawn(command, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Without a pid the spawn failed (ENOENT...): the 'error' handler below reports it as an exit.
  const pid = child.pid ?? -1;
  const maxLines = opts.maxLines ?? 100_000;
  const lines: OutputLine[] = [];
  const waiters = new Set<{ test: (l: OutputLine) => boolean; resolve: (l: OutputLine) => void }>();
  let alive = pid > 0;
  let groupGone = pid <= 0;

  let log: WriteStream | undefined;
  let logPath: string | undefined;
  if (opts.logFile) {
    logPath = typeof opts.logFile === "string" ? opts.logFile : join(ARTIFACTS_DIR, `${name}-${pid}.log`);
    mkdirSync(dirname(logPath), { recursive: true });
    log = createWriteStream(logPath, { flags: "a" });
  }

  const onLine = (stream: OutputLine["stream"]) => (text: string) => {
    const line: OutputLine = { stream, text, at: Date.now() };
    if (text.startsWith("{")) {
      try {
        const parsed: unknown = JSON.parse(text);
        if (parsed && typeof parsed === "object") line.json = parsed as Record<string, unknown>;
      } catch {
        // not JSON after all: keep the raw text
      }
    }
    lines.push(line);
    if (lines.length > maxLines) lines.splice(0, lines.length - maxLines);
    log?.write(`${stream === "stderr" ? "! " : ""}${text}\n`);
    for (const w of [...waiters]) {
      if (w.test(line)) {
        waiters.delete(w);
        w.resolve(line);
      }
    }
  };
  const outDone = new Promise<void>((r) => {
    if (!child.stdout) return r();
    createInterface({ input: child.stdout, crlfDelay: Infinity }).on("line", onLine("stdout")).on("close", r);
  });
  const errDone = new Promise<void>((r) => {
    if (!child.stderr) return r();
    createInterface({ input: child.stderr, crlfDelay: Infinity }).on("line", onLine("stderr")).on("close", r);
  });

  const signalGroup = (signal: NodeJS.Signals) => {
    if (groupGone) return;
    try {
      process.kill(-pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ESRCH") groupGone = true;
      else throw err;
    }
  };

  const exited = new Promise<ExitInfo>((resolveExit) => {
    let settled = false;
    const finish = (info: ExitInfo) => {
      if (settled) return;
      settled = true;
      alive = false;
      // Leftover children of the group (e.g. a grandchild holding a port) go with the leader. This is
      // the last time the group id is used: afterwards the number may belong to someone else.
      signalGroup("SIGKILL");
      groupGone = true;
      running.delete(proc);
      void Promise.all([outDone, errDone]).then(() => {
        log?.end();
        resolveExit(info);
      });
    };
    child.once("exit", (code, signal) => finish({ code, signal }));
    child.once("error", (err) => {
      onLine("stderr")(`spawn ${command} failed: ${err.message}`);
      finish({ code: 127, signal: null });
    });
  });

  const tail = (n = 40) =>
    lines
      .slice(-n)
      .map((l) => l.text)
      .join("\n");

  const proc: ManagedProcess = {
    name,
    pid,
    lines,
    logPath,
    get running() {
      return alive;
    },
    exited,
    waitForLine(match, timeoutMs = 30_000) {
      const test = matcher(match);
      const seen = lines.find(test);
      if (seen) return Promise.resolve(seen);
      return new Promise<OutputLine>((resolveLine, reject) => {
        const waiter = {
          test,
          resolve: (l: OutputLine) => {
            clearTimeout(timer);
            resolveLine(l);
          },
        };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name}: no line matching ${String(match)} within ${timeoutMs} ms\n${tail()}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((info) => {
          if (!waiters.has(waiter)) return;
          waiters.delete(waiter);
          clearTimeout(timer);
          reject(new Error(`${name} exited (${JSON.stringify(info)}) before a line matching ${String(match)}\n${tail()}`));
        });
      });
    },
    kill(signal = "SIGTERM") {
      if (alive) signalGroup(signal);
    },
    async stop({ signal = "SIGTERM", timeoutMs = 10_000 } = {}) {
      if (!alive) return exited;
      signalGroup(signal);
      const timer = setTimeout(() => signalGroup("SIGKILL"), timeoutMs);
      const info = await exited;
      clearTimeout(timer);
      return info;
    },
    tail,
  };
  if (alive) running.add(proc);
  return proc;
}

const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/**
 * Runs a TypeScript entry point (through the tsx loader, in one node process, so the pid is the
 * service's own) or a compiled .js file, in its own process group.
 */
export function spawnNode(
  script: string,
  args: string[] = [],
  env: Record<string, string | undefined> = {},
  opts: Omit<SpawnOptions, "env"> & { nodeArgs?: string[] } = {},
): ManagedProcess {
  const path = resolve(opts.cwd ?? REPO_ROOT, script);
  const compiled = /\.(c|m)?js$/.test(path);
  const nodeArgs = [...(opts.nodeArgs ?? []), ...(compiled ? [path, ...args] : ["--import", tsxLoader, path, ...args])];
  const name =
    opts.name ??
    (script.replace(/\/main\.[cm]?[jt]s$/, "").split("/").pop() ?? script).replace(/\.[cm]?[jt]s$/, "");
  return spawnProcess(process.execPath, nodeArgs, { ...opts, name, env });
}

/** Stops every process the harness started that is still running (for afterAll). */
export async function stopAllProcesses(timeoutMs = 10_000): Promise<void> {
  await Promise.all([...running].map((p) => p.stop({ timeoutMs })));
}
