import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryStatus, NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { createAppContext, type AppContext } from "../internal/app/context.js";
import { startRuntime, type Runtime } from "../internal/app/runtime.js";
import { loadConfig } from "../internal/config/config.js";
import { createLogger, maskAddresses } from "../internal/log/logger.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { eventually, startTestStack, type TestStack } from "./harness/platform.js";

// A node whose logger writes into a buffer, at debug level (the most talkative): Sends with a body
// marker, a bare address, a user's address and a recipient the SMTP peer rejects (its reply echoes
// the address) go through, then every line is checked.
let stack: TestStack;
let ctx: AppContext;
let rt: Runtime;
let out = "";
const lines = () =>
  out
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const BODY = "BODY-MARKER-7f3a";
const HTML_ONLY = "<b>HTML-MARKER-91c2</b>";
const BARE = "ann.secret@example.test";
const REJECTED = "bounce.secret@example.test";
const USER_ADDRESS = "user3@example.test";

beforeAll(async () => {
  stack = await startTestStack("opslogs", { users: 10 });
  const dest = new PassThrough();
  dest.on("data", (b: Buffer) => (out += b.toString()));
  const log = createLogger({ level: "debug", name: "notifyd", destination: dest });
  const cfg = loadConfig({ ...stack.env, NOTIFY_ROLES: "api,relay,planner,worker", NOTIFY_LOG_LEVEL: "debug" });
  ctx = await createAppContext(cfg, log);
  await ctx.apiKeys.ensure("bootstrap", ["send", "read", "admin"], stack.apiKey);
  rt = await startRuntime(ctx);
});
afterAll(async () => {
  await rt?.stop();
  await ctx?.close();
  await stack?.close();
});

describe("delivery logs", () => {
  it("carry the delivery's ids and never the key, the body or a full address", async () => {
    const client = createConnectClient(NotificationService, { baseUrl: `http://${rt.api!.grpc.address}`, apiKey: stack.apiKey });
    stack.sink.rejectRecipients(REJECTED);
    stack.sink.setMode({ kind: "tempfail", code: 451, times: 1 });
    const data = { subject: "Your tickets", body: `${BODY} ${HTML_ONLY}` };
    const sent = [
      await client.send({ idempotencyKey: "l-1", template: "plain", recipients: [{ target: { case: "email", value: BARE } }], data }),
      await client.send({ idempotencyKey: "l-2", template: "plain", recipients: [{ target: { case: "userId", value: "u3" } }], data }),
      await client.send({ idempotencyKey: "l-3", template: "plain", recipients: [{ target: { case: "email", value: REJECTED } }], data }),
    ];
    // A bad key is refused and must not be logged either.
    const wrongKey = `nk_${"x".repeat(43)}`;
    await createConnectClient(NotificationService, { baseUrl: `http://${rt.api!.grpc.address}`, apiKey: wrongKey })
      .send({ idempotencyKey: "l-4", template: "plain", recipients: [{ target: { case: "email", value: BARE } }], data })
      .catch(() => undefined);

    for (const s of sent) {
      await eventually(async () => {
        const g = await client.get({ notificationId: s.notificationId });
        const st = g.deliveries[0]?.status;
        return st === DeliveryStatus.SENT || st === DeliveryStatus.FAILED;
      });
    }
    expect(stack.sink.messages().map((m) => m.to[0]).sort()).toEqual([BARE, USER_ADDRESS]);

    const all = lines();
    const deliveryLines = all.filter((l) => l.deliveryId !== undefined);
    // Sent (debug), retried after the 451, and the permanent rejection all left a line.
    expect(deliveryLines.some((l) => l.msg === "delivery sent")).toBe(true);
    expect(deliveryLines.some((l) => /will retry/.test(String(l.msg)))).toBe(true);
    expect(deliveryLines.some((l) => /permanently/.test(String(l.msg)))).toBe(true);
    for (const l of deliveryLines) {
      expect(l, JSON.stringify(l)).toMatchObject({
        notificationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        deliveryId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        channel: expect.stringMatching(/^(email|websocket)$/),
        attempt: expect.any(Number),
      });
    }

    for (const secret of [stack.apiKey, wrongKey, BODY, "HTML-MARKER", BARE, REJECTED, USER_ADDRESS]) {
      expect(out, `log contains ${secret}`).not.toContain(secret);
    }
    // Masked forms are there, so the lines were about these recipients at all.
    expect(out).toContain("b***@example.test");
  });

  it("masks addresses inside free text", () => {
    expect(maskAddresses("550 <John.Doe+x@mail.example.com> rejected")).toBe("550 <J***@mail.example.com> rejected");
    expect(maskAddresses("already j***@example.com")).toBe("already j***@example.com");
    expect(maskAddresses("no address here, a@b")).toBe("no address here, a@b");
  });
});
