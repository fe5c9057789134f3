import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startFakePlatform, TEST_API_KEY, type FakePlatform } from "./test-fixture.js";
import { childEnv } from "../../test/harness/processes.js";

// Black-box: notifyctl runs as its own process, as an operator runs it, against a real h2c server.
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const TSX = `${ROOT}node_modules/.bin/tsx`;
const MAIN = `${ROOT}cmd/notifyctl/main.ts`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(command: string, args: string[], env: Record<string, string>, cwd = ROOT): ChildProcess {
  return spawn(command, args, {
    cwd,
    env: childEnv({ NOTIFY_ADDR: undefined, NOTIFY_API_KEY: undefined, ...env }),
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
}

function finish(child: ChildProcess, input?: string): Promise<Run> {
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
  child.stdin!.end(input ?? "");
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const notifyctl = (args: string[], env: Record<string, string> = {}, input?: string) =>
  finish(start(TSX, [MAIN, ...args], env), input);

describe("notifyctl as a process", () => {
  let platform: FakePlatform;
  let env: Record<string, string>;

  beforeAll(async () => {
    platform = await startFakePlatform();
    env = { NOTIFY_ADDR: platform.server.url, NOTIFY_API_KEY: TEST_API_KEY };
  });
  afterAll(async () => {
    await platform?.close();
  });

  it("call: unary RPC from reflection, JSON in and out, address and key from the environment", async () => {
    const req = { idempotencyKey: "k-1", template: "welcome", recipients: [{ userId: "u-42" }], data: { name: "Ann" } };
    const r = await notifyctl(["--json", "call", "notify.v1.NotificationService/Send", JSON.stringify(req)], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const res = JSON.parse(r.stdout) as { notificationId: string; acceptedAt: string };
    const stored = platform.sent.get(res.notificationId);
    expect(stored?.template).toBe("welcome");
    expect(stored?.data).toEqual({ name: "Ann" });
    expect(stored?.recipients[0]?.target).toEqual({ case: "userId", value: "u-42" });

    // Input from stdin, short service name, flags instead of the environment.
    const get = await notifyctl(
      ["call", "NotificationService/Get", "-", "--json", "--addr", platform.server.address, "--api-key", TEST_API_KEY],
      {},
      JSON.stringify({ notificationId: res.notificationId }),
    );
    expect(get.code).toBe(0);
    const got = JSON.parse(get.stdout) as { notification: { template: string; status: string }; deliveries: { status: string }[] };
    expect(got.notification.template).toBe("welcome");
    expect(got.notification.status).toBe("NOTIFICATION_STATUS_PLANNED");
    expect(got.deliveries[0].status).toBe("DELIVERY_STATUS_SENT");
  });

  it("exits 1 and prints the code name on an RPC error", async () => {
    const r = await notifyctl(["status", "no-such-id"], env);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("error: not_found: notification no-such-id not found");
    const noKey = await notifyctl(["call", "notify.v1.NotificationService/Get", '{"notificationId":"x"}'], { NOTIFY_ADDR: platform.server.url });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain("error: unauthenticated: missing API key");
  });

  it("exits 2 on usage errors without calling the server", async () => {
    const noArgs = await notifyctl(["call"], env);
    expect(noArgs.code).toBe(2);
    expect(noArgs.stderr).toContain("error: call needs a method");
    expect(noArgs.stderr).toContain("usage: notifyctl call <Service/Method>");
    const badFlag = await notifyctl(["history", "--user"], env);
    expect(badFlag.code).toBe(2);
    const badJson = await notifyctl(["call", "notify.v1.NotificationService/Send", "{not json"], env);
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toContain("invalid notify.v1.SendRequest JSON");
    expect(platform.sent.size).toBe(1);
  });

  it("exits 3 with a clear message when nothing listens at the address", async () => {
    const port = await closedPort();
    const r = await notifyctl(["services"], { NOTIFY_ADDR: `http://127.0.0.1:${port}` });
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe(`error: cannot reach http://127.0.0.1:${port}: connection refused`);
  });

  it("bin/notifyctl.mjs runs from any directory", async () => {
    const r = await finish(start(process.execPath, [`${ROOT}bin/notifyctl.mjs`, "--json", "services"], env, "/tmp"));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toContain("notify.v1.TemplateService");
  });

  // Last: it closes the health service's Watch streams for good.
  it("call: server-streaming RPC prints each message until the server ends the stream", async () => {
    platform.health.setStatus("notify.v1.NotificationService", "SERVING");
    const child = start(TSX, [MAIN, "--json", "call", "grpc.health.v1.Health/Watch", '{"service":"notify.v1.NotificationService"}'], env);
    const lines: string[] = [];
    const done = finish(child);
    let flipped = false;
    await new Promise<void>((resolve) => {
      child.stdout!.on("data", (b: Buffer) => {
        lines.push(...b.toString().trim().split("\n"));
        if (!flipped) platform.health.setStatus("notify.v1.NotificationService", "NOT_SERVING");
        flipped = true;
        if (lines.length >= 2) resolve();
      });
    });
    platform.health.close();
    const r = await done;
    expect(r.code).toBe(0);
    expect(lines.map((l) => JSON.parse(l))).toEqual([{ status: "SERVING" }, { status: "NOT_SERVING" }]);
  });
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}
