import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import mysql from "mysql2/promise";
import { NotificationService, DeliveryStatus, NotificationStatus, SendRequestSchema } from "../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { createGrpcClient } from "../internal/rpc/grpc-client.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";

let stack: TestStack;
let node: TestNode;
let client: ReturnType<typeof createConnectClient<typeof NotificationService>>;

const plain = (key: string, email: string, subject = "Hello", body = "World") => ({
  idempotencyKey: key,
  template: "plain",
  recipients: [{ target: { case: "email" as const, value: email } }],
  data: { subject, body },
});

async function count(table: string): Promise<number> {
  const c = await mysql.createConnection(stack.dbUrl);
  try {
    const [rows] = (await c.query(`SELECT COUNT(*) AS n FROM ${table}`)) as unknown as [{ n: number }[]];
    return Number(rows[0].n);
  } finally {
    await c.end();
  }
}

beforeAll(async () => {
  stack = await startTestStack("instant", { users: 50 });
  node = await stack.startNode("api,relay,planner,worker");
  client = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
});

afterAll(async () => {
  await stack?.close();
});

describe("the instant email path", () => {
  it("delivers a Send to the SMTP peer with the rendered parts and a fixed Message-ID", async () => {
    const res = await client.send(plain("first-1", "alice@example.test", "Tickets <ready>", "Row 5 & seat 7"));
    expect(res.duplicate).toBe(false);
    const [mail] = await stack.sink.waitForMessages(1, 15_000);
    expect(mail.to).toEqual(["alice@example.test"]);
    expect(mail.subject).toBe("Tickets <ready>");
    expect(mail.text).toContain("Row 5 & seat 7");
    expect(mail.html).toContain("Row 5 &amp; seat 7");
    const got = await eventually(async () => {
      const g = await client.get({ notificationId: res.notificationId });
      return g.deliveries[0]?.status === DeliveryStatus.SENT ? g : undefined;
    });
    expect(got.notification?.status).toBe(NotificationStatus.PLANNED);
    expect(mail.messageId).toBe(`<${got.deliveries[0].id}@cinema.example>`);
    expect(got.deliveries[0].messageId).toBe(mail.messageId);
    const states = got.deliveries[0].events.map((e) => e.status);
    expect(states).toEqual([DeliveryStatus.PENDING, DeliveryStatus.SENT]);
  });

  it("personalises mail for a user id from the user directory", async () => {
    stack.sink.reset();
    await client.send({
      idempotencyKey: "user-3",
      template: "plain",
      recipients: [{ target: { case: "userId", value: "u3" } }],
      data: { subject: "Hi", body: "Your films" },
    });
    const [mail] = await stack.sink.waitForMessages(1, 15_000);
    expect(mail.to).toEqual(["user3@example.test"]);
  });

  it("accepts a SendBatch of 500 and delivers each exactly once", async () => {
    stack.sink.reset();
    const items = Array.from({ length: 500 }, (_, i) => plain(`batch-${i}`, `b${i}@example.test`, `Batch ${i}`));
    const res = await client.sendBatch({ items });
    expect(res.results).toHaveLength(500);
    expect(new Set(res.results.map((r) => r.notificationId)).size).toBe(500);
    await stack.sink.waitForMessages(500, 60_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(stack.sink.messages()).toHaveLength(500);
    expect(stack.sink.duplicates()).toEqual([]);
  });

  it("returns the first id for a repeated key with the same payload, and ALREADY_EXISTS for another payload", async () => {
    const a = await client.send(plain("dup-1", "dup@example.test"));
    const b = await client.send(plain("dup-1", "dup@example.test"));
    expect(b.notificationId).toBe(a.notificationId);
    expect(b.duplicate).toBe(true);
    const err = await client.send(plain("dup-1", "dup@example.test", "Other subject")).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.AlreadyExists);
    expect((err as ConnectError).message).toContain("idempotency_key");
  });

  it("holds a Send with send_after until then, and a batch item too", async () => {
    stack.sink.reset();
    const due = new Date(Date.now() + 2500);
    const single = await client.send({ ...plain("later-1", "later@example.test", "Later"), sendAfter: timestampFromDate(due) });
    await client.sendBatch({ items: [{ ...plain("later-2", "later2@example.test", "Later too"), sendAfter: timestampFromDate(due) }] });
    const later = () => stack.sink.messages().filter((m) => m.to[0].startsWith("later"));
    await new Promise((r) => setTimeout(r, 1500));
    expect(later()).toHaveLength(0);
    const mails = await eventually(async () => (later().length === 2 ? later() : undefined), 15_000);
    expect(Date.now()).toBeGreaterThanOrEqual(due.getTime());
    expect(mails.map((m) => m.to[0]).sort()).toEqual(["later2@example.test", "later@example.test"]);
    const g = await client.get({ notificationId: single.notificationId });
    expect(g.notification?.sendAfter && timestampDate(g.notification.sendAfter).getTime()).toBe(due.getTime());
  });

  it("serves internal callers through a @grpc/grpc-js stub", async () => {
    const stub = createGrpcClient(NotificationService, node.grpcUrl.replace("http://", ""), {
      metadata: { authorization: `Bearer ${stack.apiKey}` },
      timeoutMs: 5000,
    });
    try {
      const res = await stub.send(create(SendRequestSchema, plain("grpc-js-1", "grpc@example.test")));
      expect(res.notificationId).toMatch(/^[0-9a-f-]{36}$/);
      const page = await stub.listByUser({ userId: "u3" });
      expect(page.deliveries.length).toBeGreaterThan(0);
      expect(page.deliveries[0].template).toBe("plain");
    } finally {
      stub.close();
    }
  });

  it("answers Connect JSON over HTTP/1.1 like curl would", async () => {
    const r = await fetch(`${node.httpUrl}/notify.v1.NotificationService/Send`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stack.apiKey}` },
      body: JSON.stringify({ idempotencyKey: "curl-1", template: "plain", recipients: [{ email: "curl@example.test" }], data: { subject: "s", body: "b" } }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { notificationId: string };
    expect(body.notificationId).toMatch(/^[0-9a-f-]{36}$/);
    const bad = await fetch(`${node.httpUrl}/notify.v1.NotificationService/Send`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${stack.apiKey}` },
      body: "{not json",
    });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { code: string }).code).toBe("invalid_argument");
    expect((await fetch(`${node.httpUrl}/healthz`)).status).toBe(200);
    expect((await fetch(`${node.httpUrl}/readyz`)).status).toBe(200);
  });
});

describe("bad input is refused with the code and the field, and nothing is written", () => {
  const cases: [string, () => unknown, Code, string][] = [
    ["unknown template", () => ({ ...plain("bad-1", "x@example.test"), template: "nope" }), Code.NotFound, "template"],
    ["missing variable", () => ({ ...plain("bad-2", "x@example.test"), data: { subject: "only" } }), Code.InvalidArgument, "data.body"],
    ["wrong type", () => ({ ...plain("bad-3", "x@example.test"), data: { subject: 5, body: "b" } }), Code.InvalidArgument, "data.subject"],
    ["malformed address", () => plain("bad-4", "not-an-address"), Code.InvalidArgument, "recipients[0].email"],
    ["CRLF-injected address", () => plain("bad-5", "a@example.test\r\nBcc: all@example.test"), Code.InvalidArgument, "recipients[0].email"],
    ["empty recipients", () => ({ ...plain("bad-6", "x@example.test"), recipients: [] }), Code.InvalidArgument, "recipients"],
    ["no idempotency key", () => plain("", "x@example.test"), Code.InvalidArgument, "idempotency_key"],
    ["unknown channel", () => ({ ...plain("bad-7", "x@example.test"), channels: ["pigeon"] }), Code.InvalidArgument, "channels[0]"],
    ["a marketing template relabelled transactional", () => ({ ...plain("bad-8", "x@example.test"), template: "birthday", data: {}, category: "transactional" }), Code.InvalidArgument, "category"],
  ];
  for (const [name, make, code, field] of cases) {
    it(name, async () => {
      const before = await count("notifications");
      const err = await client.send(make() as never).catch((e) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(code);
      expect((err as ConnectError).message).toContain(field);
      expect(await count("notifications")).toBe(before);
    });
  }

  it("a batch of 1,001 items", async () => {
    const items = Array.from({ length: 1001 }, (_, i) => plain(`big-${i}`, `x${i}@example.test`));
    const err = await client.sendBatch({ items }).catch((e) => e);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).message).toContain("items");
  });

  it("a batch with one bad item writes none of them", async () => {
    const before = await count("notifications");
    const items = [plain("half-1", "ok@example.test"), plain("half-2", "bad address")];
    const err = await client.sendBatch({ items }).catch((e) => e);
    expect((err as ConnectError).code).toBe(Code.InvalidArgument);
    expect((err as ConnectError).message).toContain("items[1].recipients[0].email");
    expect(await count("notifications")).toBe(before);
    expect(await count("outbox")).toBe(0);
  });

  it("a 5 MB data payload", async () => {
    const err = await client.send({ ...plain("huge", "x@example.test"), data: { subject: "s", body: "x".repeat(5 * 1024 * 1024) } }).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect([Code.ResourceExhausted, Code.InvalidArgument]).toContain((err as ConnectError).code);
  });

  it("with NOTIFY_GRPC_SERVER=connect, takes gRPC and the Connect protocol over HTTP/2 on the same port", async () => {
    stack.sink.reset();
    const front = await stack.startNode("api", { NOTIFY_GRPC_SERVER: "connect" });
    try {
      const h2 = createConnectClient(NotificationService, { baseUrl: front.grpcUrl, apiKey: stack.apiKey, protocol: "connect", httpVersion: "2" });
      const res = await h2.send(plain("connect-h2-1", "h2@example.test", "Over Connect"));
      const [mail] = await stack.sink.waitForMessages(1, 15_000);
      expect(mail.subject).toBe("Over Connect");
      expect((await h2.send(plain("connect-h2-1", "h2@example.test", "Over Connect"))).notificationId).toBe(res.notificationId);
      const bad = await h2.send({ ...plain("connect-h2-2", "x@example.test"), data: { subject: "only" } }).catch((e) => e);
      expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
      expect((bad as ConnectError).message).toContain("data.body");
      const anon = createConnectClient(NotificationService, { baseUrl: front.grpcUrl, protocol: "connect", httpVersion: "2" });
      expect(((await anon.send(plain("connect-h2-3", "x@example.test")).catch((e) => e)) as ConnectError).code).toBe(Code.Unauthenticated);
      const grpcCaller = createConnectClient(NotificationService, { baseUrl: front.grpcUrl, apiKey: stack.apiKey });
      expect((await grpcCaller.send(plain("connect-h2-1", "h2@example.test", "Over Connect"))).notificationId).toBe(res.notificationId);
    } finally {
      await front.stop();
    }
  });

  it("the default gRPC listener (grpc-js) refuses the Connect protocol by its content type", async () => {
    const h2 = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey, protocol: "connect", httpVersion: "2" });
    const err = await h2.send(plain("connect-h2-4", "x@example.test")).catch((e) => e);
    expect(err).toBeInstanceOf(ConnectError);
    // grpc-js answers a non-gRPC content type with HTTP 415, which a Connect client reads as unknown.
    expect((err as ConnectError).message).toContain("415");
  });

  it("missing and wrong API keys", async () => {
    const anon = createConnectClient(NotificationService, { baseUrl: node.grpcUrl });
    const e1 = await anon.send(plain("auth-1", "x@example.test")).catch((e) => e);
    expect((e1 as ConnectError).code).toBe(Code.Unauthenticated);
    const wrong = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: "nk_wrong" });
    const e2 = await wrong.send(plain("auth-2", "x@example.test")).catch((e) => e);
    expect((e2 as ConnectError).code).toBe(Code.Unauthenticated);
    const { key } = await node.ctx.apiKeys.create("reader-only", ["read"]);
    const reader = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: key });
    const e3 = await reader.send(plain("auth-3", "x@example.test")).catch((e) => e);
    expect((e3 as ConnectError).code).toBe(Code.PermissionDenied);
  });
});

describe("planning in the process that accepted the Send", () => {
  const plannerDelivered = async (n: TestNode) => {
    const t = n.ctx.topology;
    return (await n.ctx.bus.jsm.consumers.info(t.streams.work, t.consumers.planner)).delivered.consumer_seq;
  };

  it("plans a single Send without sending its request through the broker", async () => {
    stack.sink.reset();
    const before = await plannerDelivered(node);
    await client.send(plain("handoff-1", "handoff@example.test", "Handed off"));
    await stack.sink.waitForMessages(1, 15_000);
    await eventually(async () => (await count("outbox")) === 0, 5000);
    expect(await plannerDelivered(node)).toBe(before);
  });

  it("leaves the request to the relay and the broker when planning there fails", async () => {
    stack.sink.reset();
    // This node accepts and plans; with its broker connection gone, planning fails at the publish.
    // The first node's relay, planner and worker are the fallback.
    const front = await stack.startNode("api,planner", { NOTIFY_PLAN_HANDOFF: "1500ms" });
    try {
      await front.ctx.bus.nc.close();
      const frontClient = createConnectClient(NotificationService, { baseUrl: front.grpcUrl, apiKey: stack.apiKey });
      const before = await plannerDelivered(node);
      const sentAt = Date.now();
      const res = await frontClient.send(plain("handoff-2", "fallback@example.test", "Fallback"));
      const [mail] = await stack.sink.waitForMessages(1, 20_000);
      expect(mail.to).toEqual(["fallback@example.test"]);
      // Not before the grace: the relay left the row alone until then.
      expect(Date.now() - sentAt).toBeGreaterThanOrEqual(1400);
      expect(await plannerDelivered(node)).toBe(before + 1);
      const got = await eventually(async () => {
        const g = await client.get({ notificationId: res.notificationId });
        return g.deliveries[0]?.status === DeliveryStatus.SENT ? g : undefined;
      });
      expect(got.deliveries).toHaveLength(1);
      await new Promise((r) => setTimeout(r, 500));
      expect(stack.sink.messages().length).toBe(1);
    } finally {
      await front.stop().catch(() => undefined);
    }
  }, 40_000);
});
