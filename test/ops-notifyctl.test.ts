import { execFile, spawn } from "node:child_process";
import { createServer } from "node:net";
import { Readable } from "node:stream";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CampaignService } from "../gen/notify/v1/campaign_service_pb.js";
import { runCli } from "../internal/cli/run.js";
import { createPlatformRegistry } from "../internal/ops/registry.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";
import { REPO_ROOT } from "./harness/processes.js";

// notifyctl's task commands against a real node (MariaDB, NATS, users-demo, SMTP sink): in-process
// through runCli for speed, and as a real process where exit codes and the environment matter.
let stack: TestStack;
let node: TestNode;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function cli(...argv: string[]): Promise<Run> {
  return cliAs({ addr: node.grpcUrl, apiKey: stack.apiKey }, ...argv);
}
async function cliAs(env: { addr?: string; apiKey?: string }, ...argv: string[]): Promise<Run> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(argv, env, {
    stdout: { write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    stdin: Readable.from([]),
  });
  return { code, stdout, stderr };
}
function json<T = Record<string, unknown>>(r: Run): T {
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as T;
}

/** notifyctl as its own process (bin/notifyctl.mjs, as installed), env instead of flags. */
function notifyctlProcess(args: string[], env: Record<string, string>): Promise<Run> {
  const base = { ...process.env };
  delete base.NOTIFY_ADDR;
  delete base.NOTIFY_API_KEY;
  const child = spawn(process.execPath, [`${REPO_ROOT}/bin/notifyctl.mjs`, ...args], { env: { ...base, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
  child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), 30_000);
  return new Promise((resolve) =>
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    }),
  );
}

beforeAll(async () => {
  stack = await startTestStack("opsctl", { users: 12, env: { NOTIFY_CAMPAIGN_POLL: "200ms" } });
  node = await stack.startNode("api,relay,planner,worker,scheduler");
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

describe("notifyctl against a running node", () => {
  it("lists every service the node registers, as buf curl does through reflection", async () => {
    const expected = [...createPlatformRegistry()]
      .filter((d) => d.kind === "service")
      .map((d) => d.typeName)
      .sort();
    const services = json<string[]>(await cli("--json", "services")).sort();
    expect(services).toEqual(expected);
    expect(services).toEqual(expect.arrayContaining(["notify.v1.CampaignService", "notify.v1.OpsService", "notify.v1.SettingsService", "grpc.health.v1.Health"]));
    const { stdout } = await promisify(execFile)(
      `${REPO_ROOT}/node_modules/.bin/buf`,
      ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--reflect", "--list-services", node.grpcUrl],
      { timeout: 30_000 },
    );
    expect(stdout.trim().split("\n").sort()).toEqual(expected);
  });

  it("call round-trips an RPC; status and health read the result", async () => {
    const req = { idempotencyKey: "ctl-1", template: "plain", recipients: [{ email: "ctl@example.test" }], data: { subject: "S", body: "B" } };
    const { notificationId } = json<{ notificationId: string }>(await cli("--json", "call", "notify.v1.NotificationService/Send", JSON.stringify(req)));
    await stack.sink.waitForMessages(1, 15_000);
    const st = await eventually(async () => {
      const r = json<{ deliveries: { status: string }[] }>(await cli("--json", "status", notificationId));
      return r.deliveries[0]?.status === "DELIVERY_STATUS_SENT" ? r : undefined;
    });
    expect(st.deliveries).toHaveLength(1);
    const health = await cli("health");
    expect(health.code).toBe(0);
    expect(health.stdout).toMatch(/\(server\)\s+SERVING/);
  });

  it("keys: create shows the secret once, list, revoke; a revoked key stops working", async () => {
    const created = json<{ key: string; apiKey: { scopes: string[] } }>(await cli("--json", "keys", "create", "ctl-billing", "--scopes", "send,read"));
    expect(created.key).toMatch(/^nk_/);
    expect(created.apiKey.scopes).toEqual(["send", "read"]);
    const human = await cli("keys", "create", "ctl-other");
    expect(human.stdout).toMatch(/^nk_\S+\n$/);
    expect(human.stderr).toContain("not shown again");

    const asNew = await cliAs({ addr: node.grpcUrl, apiKey: created.key }, "history", "--user", "u1");
    expect(asNew.code).toBe(0);
    const list = await cli("keys", "list");
    expect(list.stdout.split("\n")[0]).toMatch(/^NAME\s+PREFIX\s+SCOPES\s+STATUS\s+CREATED\s+LAST USED$/);
    expect(list.stdout).toMatch(new RegExp(`ctl-billing\\s+${created.key.slice(0, 8)}…\\s+send,read\\s+active`));
    expect(list.stdout).not.toContain(created.key);

    expect((await cli("keys", "revoke", "ctl-billing")).stdout).toContain("revoked ctl-billing");
    const again = await cli("keys", "revoke", "ctl-billing");
    expect(again).toMatchObject({ code: 1, stderr: "error: no active API key named ctl-billing\n" });
    const revoked = await cliAs({ addr: node.grpcUrl, apiKey: created.key }, "history", "--user", "u1");
    expect(revoked.code).toBe(1);
    expect(revoked.stderr).toMatch(/^error: unauthenticated: /);
    expect((await cli("keys", "create", "ctl-other")).stderr).toMatch(/^error: already_exists: /);
    expect((await cli("keys", "create", "bad", "--scopes", "root")).stderr).toMatch(/^error: invalid_argument: .*scope/);
  });

  it("settings: get, set and reset", async () => {
    const all = await cli("settings", "get");
    expect(all.stdout).toMatch(/^KEY\s+VALUE\s+DEFAULT\s+CHANGED\n/);
    expect(all.stdout).toMatch(/redirect_allowlist\s+\[".+"\]\s+\(default\)/);
    const set = await cli("settings", "set", "redirect_allowlist", '["cinema.example","*.cinema.example"]');
    expect(set.code).toBe(0);
    expect(set.stdout).toMatch(/redirect_allowlist\s+\["cinema.example","\*.cinema.example"\]/);
    const got = json<{ settings: { key: string; value: unknown; isDefault?: boolean }[] }>(await cli("--json", "settings", "get", "redirect_allowlist"));
    expect(got.settings).toEqual([expect.objectContaining({ key: "redirect_allowlist", value: ["cinema.example", "*.cinema.example"] })]);
    const bad = await cli("settings", "set", "confirm_redirect_url", "https://evil.example/");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: invalid_argument: .*confirm_redirect_url/);
    expect((await cli("settings", "reset", "redirect_allowlist")).stdout).toMatch(/redirect_allowlist\s+\S+\s+\(default\)/);
    expect((await cli("settings", "set", "redirect_allowlist")).code).toBe(2);
  });

  it("campaign: list, show, rate, watch to the end, pause, resume and cancel", async () => {
    const client = createConnectClient(CampaignService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
    const create = async (name: string, schedule: "now" | "later") => {
      const { campaign } = await client.create({
        spec: {
          name,
          template: "plain",
          channels: ["email"],
          audience: { kind: { case: "all", value: true } },
          schedule:
            schedule === "now"
              ? { kind: { case: "now", value: true } }
              : { kind: { case: "cron", value: { expression: "0 0 1 1 *", timeZone: "UTC" } } },
          rate: 5,
          data: { subject: name, body: "News" },
        },
      });
      await client.schedule({ campaignId: campaign!.id });
      return String(campaign!.id);
    };
    const now = await create("ctl-now", "now");
    const later = await create("ctl-later", "later");

    const list = await cli("campaign", "list");
    expect(list.stdout.split("\n")[0]).toMatch(/^ID\s+NAME\s+STATUS\s+TEMPLATE\s+RATE\s+NEXT\s+UPDATED$/);
    expect(list.stdout).toMatch(new RegExp(`\\n${later}\\s+ctl-later\\s+scheduled\\s+plain\\s+5/s`));
    const listJson = json<{ campaigns: { id: string }[] }>(await cli("--json", "campaign", "list", "--status", "scheduled"));
    expect(listJson.campaigns.map((c) => c.id)).toContain(later);

    expect((await cli("campaign", "rate", now, "50")).stdout).toBe(`campaign ${now} rate is 50/s\n`);
    const watched = await cli("campaign", "watch", now);
    expect(watched.code).toBe(0);
    const lastLine = watched.stdout.trim().split("\n").pop()!;
    expect(lastLine).toMatch(/^\[#{30}\]\s+100%\s+12\/12\s+sent 12 failed 0 skipped 0 dead 0 pending 0 .* completed$/);
    // On a terminal the bar redraws in place and the line is finished when the stream ends.
    let tty = "";
    const ttyCode = await runCli(["campaign", "watch", now], { addr: node.grpcUrl, apiKey: stack.apiKey }, {
      stdout: { write: (t: string) => (tty += t), isTTY: true } as never,
      stderr: { write: () => true },
      stdin: Readable.from([]),
    });
    expect(ttyCode).toBe(0);
    expect(tty).toMatch(/^\r\x1b\[K\[#{30}\] +100% .* completed\n$/);
    const watchJson = await cli("--json", "campaign", "watch", now);
    const samples = watchJson.stdout.trim().split("\n").map((l) => JSON.parse(l) as { progress: { status: string; sent: string } });
    expect(samples.at(-1)!.progress).toMatchObject({ status: "RUN_STATUS_COMPLETED", sent: "12" });
    expect(stack.sink.messages().filter((m) => m.subject === "ctl-now")).toHaveLength(12);

    const shown = await cli("campaign", "show", now);
    expect(shown.stdout).toMatch(/status:\s+completed/);
    expect(shown.stdout).toMatch(/audience:\s+everyone/);
    expect(shown.stdout).toMatch(/RUN\s+STATUS\s+OCCURRENCE\s+AUDIENCE\s+PLANNED\s+SENT/);
    expect(shown.stdout).toMatch(/\d+\s+completed\s+\S+ \S+\s+12\s+12\s+12\s+0/);

    expect((await cli("campaign", "pause", later)).stdout).toBe(`campaign ${later} is paused\n`);
    expect((await cli("campaign", "resume", later)).stdout).toBe(`campaign ${later} is scheduled\n`);
    expect((await cli("campaign", "cancel", later)).stdout).toMatch(new RegExp(`^campaign ${later} is cancelled; 0 unsent deliveries cancelled\\n$`));
    expect((await cli("campaign", "pause", "999999")).stderr).toMatch(/^error: not_found: /);
    expect((await cli("campaign", "rate", later, "fast")).code).toBe(2);
    expect((await cli("campaign", "list", "--status", "busy")).stderr).toContain("one of draft, scheduled, paused, completed, cancelled");
  });

  it("dlq: list, show, replay and purge a poison message", async () => {
    // Not a delivery message at all: the worker dead-letters it at once.
    await node.ctx.bus.js.publish(node.ctx.topology.subjects.deliver("email"), new TextEncoder().encode("not json at all"));
    const listed = await eventually(async () => {
      const r = json<{ deadLetters?: { id: string; reason: string }[] }>(await cli("--json", "dlq", "list", "--channel", "email"));
      return r.deadLetters?.length ? r.deadLetters : undefined;
    });
    expect(listed[0].reason).toBe("poison");
    const id = listed[0].id;
    const table = await cli("dlq", "list", "--reason", "poison", "--since=-1h");
    expect(table.stdout).toMatch(new RegExp(`^ID\\s+SOURCE\\s+REASON\\s+DEAD AT\\s+DELIVERY\\s+STATUS\\s+REPLAYS\\s+ERROR\\n${id}\\s+email\\s+poison`));
    const shown = await cli("dlq", "show", id);
    expect(shown.stdout).toMatch(/reason:\s+poison/);
    expect(shown.stdout).toContain("--- payload (15 bytes) ---\nnot json at all\n");

    const replay = await cli("--json", "dlq", "replay", id);
    expect(json(replay)).toMatchObject({ replayed: 1, replayedIds: [id] });
    // The replayed message is published again, and being poison it comes back as a new dead letter.
    const both = await eventually(async () => {
      const r = json<{ deadLetters?: { id: string; replayCount?: number }[] }>(await cli("--json", "dlq", "list", "--include-replayed"));
      return r.deadLetters?.length === 2 ? r.deadLetters : undefined;
    });
    expect(both.find((d) => d.id === id)?.replayCount).toBe(1);
    expect((await cli("dlq", "list")).stdout).not.toMatch(new RegExp(`\\n${id}\\s`));
    expect((await cli("dlq", "replay")).code).toBe(2);
    expect((await cli("dlq", "purge", "--all")).stderr).toContain("add --yes");
    expect((await cli("dlq", "purge", "--all", "--channel", "email", "--yes")).code).toBe(2);
    expect((await cli("dlq", "purge", "--all", "--include-replayed", "--yes")).stdout).toBe("purged 2\n");
    expect(json(await cli("--json", "dlq", "list", "--include-replayed"))).toEqual({});
  });

  it("errors: unreachable address, missing key, usage mistakes", async () => {
    const port = await closedPort();
    const down = await cliAs({ addr: `http://127.0.0.1:${port}`, apiKey: stack.apiKey }, "campaign", "list");
    expect(down).toMatchObject({ code: 3, stderr: `error: cannot reach http://127.0.0.1:${port}: connection refused\n` });
    const noKey = await cliAs({ addr: node.grpcUrl }, "settings", "get");
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toMatch(/^error: unauthenticated: missing API key/);
    expect((await cli("dlq", "show", "abc")).code).toBe(2);
    expect((await cli("keys")).stderr).toContain("usage: notifyctl keys create");
  });

  it("works as a process with the address and key from the environment", async () => {
    const env = { NOTIFY_ADDR: node.grpcUrl.replace("http://", ""), NOTIFY_API_KEY: stack.apiKey };
    const r = await notifyctlProcess(["--json", "campaign", "list"], env);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { campaigns: unknown[] }).campaigns.length).toBeGreaterThanOrEqual(2);
    const down = await notifyctlProcess(["keys", "list"], { ...env, NOTIFY_ADDR: `127.0.0.1:${await closedPort()}` });
    expect(down.code).toBe(3);
    expect(down.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:\d+: connection refused\n$/);
    const noKey = await notifyctlProcess(["keys", "list"], { NOTIFY_ADDR: env.NOTIFY_ADDR });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain("error: unauthenticated:");
  });
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}
