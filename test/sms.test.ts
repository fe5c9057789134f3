import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeliveryStatus, NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { TemplateService, VariableType } from "../gen/notify/v1/template_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";

/** A local HTTP SMS gateway that answers each request with the next status of a script (then 200). */
interface SmsRequest {
  headers: http.IncomingHttpHeaders;
  body: { phone: string; text: string; reference: string; from?: string };
}
let requests: SmsRequest[] = [];
let script: number[] = [];
const server = http.createServer((req, res) => {
  let raw = "";
  req.on("data", (c) => (raw += c));
  req.on("end", () => {
    requests.push({ headers: req.headers, body: JSON.parse(raw) });
    const status = script.shift() ?? 200;
    res.writeHead(status, { "content-type": "application/json" });
    res.end(status === 200 ? JSON.stringify({ id: `gw-${requests.length}` }) : JSON.stringify({ error: `status ${status}` }));
  });
});

let stack: TestStack;
let node: TestNode;
let api: ReturnType<typeof createConnectClient<typeof NotificationService>>;
let phoneUser: string;
let seq = 0;

async function sendSms(userId: string, body: string) {
  const r = await api.send({
    idempotencyKey: `sms-${seq++}`,
    template: "showtime_sms",
    recipients: [{ target: { case: "userId", value: userId } }],
    data: { body },
  });
  return r.notificationId;
}
async function finalDelivery(nid: string) {
  return eventually(async () => {
    const g = await api.get({ notificationId: nid });
    const d = g.deliveries[0];
    return d && [DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.DEAD].includes(d.status) ? d : undefined;
  });
}

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as AddressInfo).port;
  stack = await startTestStack("sms", {
    users: 30,
    env: {
      NOTIFY_CHANNEL_SMS_URL: `http://127.0.0.1:${port}/v1/messages`,
      NOTIFY_CHANNEL_SMS_AUTH: "Bearer sms-test-key",
      NOTIFY_CHANNEL_SMS_FROM: "Cinema",
      NOTIFY_CHANNEL_SMS_RATE: "50",
    },
  });
  node = await stack.startNode("api,relay,planner,worker");
  api = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  // The sms channel's template variant: a template whose contents have the part "sms".
  const templates = createConnectClient(TemplateService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  await templates.create({
    key: "showtime_sms",
    name: "Showtime reminder (SMS)",
    category: "transactional",
    channels: ["sms"],
    variables: [{ name: "body", type: VariableType.STRING, required: true }],
    contents: [{ locale: "en", parts: { sms: "Cinema: {{body}}" } }],
  });
  for (let i = 1; ; i++) {
    const u = await node.ctx.users.getUser(`u${i}`);
    if (u?.phone) {
      phoneUser = u.id;
      break;
    }
  }
}, 60_000);

afterAll(async () => {
  await stack?.close();
  await new Promise((r) => server.close(r));
});

describe("the sms channel", () => {
  it("posts phone and text with the auth header and an idempotency key; 200 -> sent", async () => {
    requests = [];
    const nid = await sendSms(phoneUser, "Your film starts at 20:00");
    const d = await finalDelivery(nid);
    expect(d.status).toBe(DeliveryStatus.SENT);
    expect(requests).toHaveLength(1);
    const user = await node.ctx.users.getUser(phoneUser);
    expect(requests[0].body).toEqual({ phone: user!.phone, text: "Cinema: Your film starts at 20:00", reference: d.id, from: "Cinema" });
    expect(requests[0].headers.authorization).toBe("Bearer sms-test-key");
    expect(requests[0].headers["idempotency-key"]).toBe(d.id);
    expect(d.messageId).toBe("gw-1");
  });

  it("retries after 429 and then sends", async () => {
    requests = [];
    script = [429];
    const nid = await sendSms(phoneUser, "Retry me");
    const d = await finalDelivery(nid);
    expect(d.status).toBe(DeliveryStatus.SENT);
    expect(d.attempts).toBe(2);
    expect(requests.map((r) => r.body.reference)).toEqual([d.id, d.id]);
    expect(d.events.map((e) => e.status)).toEqual([DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.SENT]);
    expect(d.events[1].detail).toContain("sms gateway 429");
  });

  it("fails permanently on 400 without retrying", async () => {
    requests = [];
    script = [400];
    const nid = await sendSms(phoneUser, "Bad request");
    const d = await finalDelivery(nid);
    expect(d.status).toBe(DeliveryStatus.FAILED);
    expect(d.lastError).toContain("sms_rejected");
    await new Promise((r) => setTimeout(r, 800));
    expect(requests).toHaveLength(1);
  });

  it("reports the channel and its breaker state on /readyz", async () => {
    const r = (await (await fetch(`${node.httpUrl}/readyz`)).json()) as { checks: Record<string, unknown> };
    expect(r.checks["channel.sms"]).toEqual({ sms: "closed" });
  });
});
