import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./run.js";
import { startFakePlatform, TEST_API_KEY, type FakePlatform } from "./test-fixture.js";

// The commands in-process (runCli with captured output) against a real h2c server; notifyctl.test.ts
// covers the same code as a child process.
describe("notifyctl commands", () => {
  let platform: FakePlatform;
  const cli = async (...argv: string[]) => {
    let stdout = "";
    let stderr = "";
    const code = await runCli(
      argv,
      { addr: platform.server.url, apiKey: TEST_API_KEY },
      {
        stdout: { write: (t: string) => (stdout += t) },
        stderr: { write: (t: string) => (stderr += t) },
        stdin: Readable.from([]),
      },
    );
    return { code, stdout, stderr };
  };

  beforeAll(async () => {
    platform = await startFakePlatform();
  });
  afterAll(async () => {
    await platform?.close();
  });

  it("describe prints services, methods with their messages, and enums", async () => {
    const svc = await cli("describe", "NotificationService");
    expect(svc.code).toBe(0);
    expect(svc.stdout).toContain("service NotificationService {");
    expect(svc.stdout).toContain("  rpc Send(notify.v1.SendRequest) returns (notify.v1.SendResponse);");
    expect(svc.stdout).toContain("    option idempotency_level = NO_SIDE_EFFECTS;");

    const method = await cli("describe", "notify.v1.NotificationService/Send");
    expect(method.stdout).toContain("message SendRequest {");
    expect(method.stdout).toContain("  repeated notify.v1.Recipient recipients = 4;");
    expect(method.stdout).toContain("  google.protobuf.Struct data = 7;");

    const msg = await cli("describe", "notify.v1.Recipient");
    expect(msg.stdout).toContain("  oneof target {\n    string user_id = 1;\n    string email = 2;\n  }");
    const map = await cli("describe", "notify.v1.LocaleContent");
    expect(map.stdout).toContain("  map<string, string> parts = 2;");
    const stream = await cli("describe", "grpc.health.v1.Health/Watch");
    expect(stream.stdout).toContain("returns (stream grpc.health.v1.HealthCheckResponse);");

    const json = await cli("--json", "describe", "notify.v1.DeliveryStatus");
    expect(JSON.parse(json.stdout).value).toContainEqual({ name: "DELIVERY_STATUS_DEAD", number: 8 });

    const missing = await cli("describe", "notify.v1.Nope");
    expect(missing).toMatchObject({ code: 1, stderr: "error: not_found: symbol not found: notify.v1.Nope\n" });
  });

  it("call refuses streaming requests and bad input before sending", async () => {
    const bidi = await cli("call", "grpc.reflection.v1.ServerReflection/ServerReflectionInfo", "{}");
    expect(bidi.code).toBe(2);
    expect(bidi.stderr).toContain("bidi streaming");
    const unknownField = await cli("call", "notify.v1.NotificationService/Send", '{"nope":1}');
    expect(unknownField.code).toBe(2);
    expect((await cli("--timeout", "soon", "services")).code).toBe(2);
    expect((await cli("--addr", "ftp://x", "services")).code).toBe(2);
    expect((await cli("frobnicate")).stderr).toContain('unknown command "frobnicate"');
  });

  it("templates list, show and preview print tables for people and JSON for scripts", async () => {
    const list = await cli("templates", "list");
    expect(list.stdout.split("\n")[0]).toMatch(/^KEY\s+NAME\s+CATEGORY\s+CHANNELS\s+VERSION\s+UPDATED$/);
    expect(list.stdout).toMatch(/weekly_digest\s+New films this week\s+marketing\s+email,websocket\s+5/);
    const listJson = await cli("--json", "templates", "list");
    expect(JSON.parse(listJson.stdout).templates.map((t: { key: string }) => t.key)).toEqual(["welcome", "weekly_digest"]);

    const show = await cli("templates", "show", "welcome");
    expect(show.stdout).toMatch(/name\s+string\s+yes\s+user's first name/);
    expect(show.stdout).toContain("--- en subject ---\nHello {{name}}");

    const preview = await cli("templates", "preview", "welcome", "--data", '{"name":"Ann"}');
    expect(preview.stdout).toContain("--- subject ---\nHello Ann");
    const sample = await cli("--json", "templates", "preview", "welcome");
    expect(JSON.parse(sample.stdout)).toMatchObject({ parts: { subject: "Hello sample" }, problems: ["using sample data"] });

    expect((await cli("templates", "show", "nope")).code).toBe(1);
    expect((await cli("templates", "preview", "welcome", "--data", "[1]")).code).toBe(2);
    expect((await cli("templates")).code).toBe(2);
  });

  it("send, status and history follow one notification", async () => {
    const sent = await cli("--json", "send", "--template", "welcome", "--user", "u-7", "--channel", "email", "--data", '{"name":"Bo"}', "--key", "evt-1");
    expect(sent.code).toBe(0);
    const { notificationId } = JSON.parse(sent.stdout) as { notificationId: string };
    expect(platform.sent.get(notificationId)).toMatchObject({ idempotencyKey: "evt-1", channels: ["email"], data: { name: "Bo" } });

    const human = await cli("send", "--template", "welcome", "--email", "a@example.com", "--send-after", "+10m");
    expect(human.stdout).toMatch(/^accepted [0-9a-f-]{36} at \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ\nidempotency key: [0-9a-f-]{36}\n$/);
    expect((await cli("send", "--user", "u-7")).code).toBe(2);

    const status = await cli("status", notificationId, "--events");
    expect(status.stdout).toMatch(/status:\s+planned/);
    expect(status.stdout).toMatch(/DELIVERY\s+CHANNEL\s+USER\s+STATUS/);
    expect(status.stdout).toMatch(new RegExp(`d-${notificationId}\\s+email\\s+u-7\\s+sent\\s+1`));
    expect(status.stdout).toMatch(/sent\s+250 ok/);

    const history = await cli("history", "--user", "u-7");
    expect(history.stdout).toMatch(new RegExp(`welcome\\s+email\\s+sent\\s+1\\s+${notificationId}`));
    expect(history.stdout).toContain("more: --page-token next-1");
    const historyJson = await cli("--json", "history", "--user", "u-7");
    expect(JSON.parse(historyJson.stdout).deliveries[0].status).toBe("DELIVERY_STATUS_SENT");
  });

  it("health shows every status and exits 1 unless SERVING", async () => {
    platform.health.setStatus("mariadb", "SERVING");
    const ok = await cli("health");
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/\(server\)\s+SERVING/);
    expect(ok.stdout).toMatch(/mariadb\s+SERVING/);

    platform.health.setStatus("mariadb", "NOT_SERVING");
    platform.health.setStatus("", "NOT_SERVING");
    const down = await cli("health");
    expect(down).toMatchObject({ code: 1, stderr: "error: server is NOT_SERVING\n" });
    const one = await cli("--json", "health", "mariadb");
    expect(one.code).toBe(1);
    expect(JSON.parse(one.stdout)).toEqual({ status: "NOT_SERVING" });
    expect((await cli("health", "nope")).stderr).toContain("error: not_found:");
    platform.health.setStatus("", "SERVING");
  });
});
