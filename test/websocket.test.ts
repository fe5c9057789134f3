import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { connect as natsConnect, type NatsConnection } from "nats";
import WebSocket from "ws";
import { InboxService } from "../gen/notify/v1/inbox_service_pb.js";
import { DeliveryStatus, NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { createTopology } from "../internal/bus/topology.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { eventually, NATS, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";
import { freePort } from "./harness/ports.js";
import { openSocket, signUserToken, upgradeStatus, type Frame, type TestSocket } from "./harness/ws-client.js";

const SECRET = "ws-test-secret-0123456789abcdefghijklmnop";
const ORIGIN = "https://cinema.example";
const MAX_MSGS = 20;

let stack: TestStack;
let node: TestNode;
let wsUrl: string;
let api: ReturnType<typeof createConnectClient<typeof NotificationService>>;
let nc: NatsConnection;
const open: TestSocket[] = [];

const token = (userId: string, expiresIn?: number) => signUserToken(SECRET, userId, expiresIn);
async function connectAs(userId: string, url = wsUrl, extra: Parameters<typeof openSocket>[1] = {}) {
  const s = await openSocket(url, { token: await token(userId), ...extra });
  open.push(s);
  return s;
}
const isNote = (f: Frame) => f.type === "notification";
let seq = 0;
async function sendTo(userId: string, o: { subject?: string; channels?: string[]; senderId?: string; category?: string } = {}) {
  const r = await api.send({
    idempotencyKey: `ws-${seq++}-${Date.now()}`,
    template: "plain",
    recipients: [{ target: { case: "userId", value: userId } }],
    channels: o.channels ?? ["websocket"],
    data: { subject: o.subject ?? "Hello", body: "Your film starts soon" },
    senderId: o.senderId ?? "",
    category: o.category ?? "",
  });
  return r.notificationId;
}
async function deliveryOf(notificationId: string, channel = "websocket") {
  const g = await api.get({ notificationId });
  return g.deliveries.find((d) => d.channel === channel);
}
async function gatewayStats(httpUrl = node.httpUrl) {
  const r = (await (await fetch(`${httpUrl}/readyz`)).json()) as { checks: { gateway: { connections: number; users: number; subscriptions: number } } };
  return r.checks.gateway;
}

beforeAll(async () => {
  stack = await startTestStack("ws", {
    users: 50,
    env: {
      NOTIFY_JWT_SECRET: SECRET,
      NOTIFY_WS_ORIGINS: ORIGIN,
      NOTIFY_WS_MAX_MSGS_PER_SEC: String(MAX_MSGS),
      NOTIFY_WS_HEARTBEAT: "400ms",
      NOTIFY_WS_MAX_BUFFER: "262144",
    },
  });
  node = await stack.startNode("api,relay,planner,worker,gateway");
  wsUrl = `${node.httpUrl.replace("http://", "ws://")}/ws`;
  api = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  nc = await natsConnect({ servers: NATS });
}, 60_000);

afterAll(async () => {
  for (const s of open) s.ws.terminate();
  await nc?.close();
  await stack?.close();
});

describe("live delivery", () => {
  it("pushes a Send to every open tab of the user in under a second, then records ack and read", async () => {
    const tab1 = await connectAs("u1");
    const tab2 = await connectAs("u1");
    const hello = await tab1.next((f) => f.type === "hello");
    expect(hello).toMatchObject({ userId: "u1", unread: 0, maxMsgsPerSec: MAX_MSGS });
    await tab2.next((f) => f.type === "hello");
    // The first notification of a fresh process compiles its template and warms the path; the promise
    // is about a Send in a running platform, so one goes to another user first.
    const warm = await connectAs("u12");
    await warm.next((f) => f.type === "hello");
    await sendTo("u12", { subject: "Warm-up" });
    await warm.next(isNote, 15_000);
    warm.ws.close();

    const t0 = Date.now();
    const nid = await sendTo("u1", { subject: "Tickets ready" });
    const [a, b] = await Promise.all([tab1.next(isNote, 5000), tab2.next(isNote, 5000)]);
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(1000);
    expect(a.notification).toMatchObject({ notificationId: nid, title: "Tickets ready", body: "Your film starts soon", category: "transactional" });
    expect(b.notification.id).toBe(a.notification.id);

    const id = a.notification.id as string;
    tab1.send({ type: "ack", ids: [id], ref: "a1" });
    expect(await tab1.next((f) => f.type === "ok" && f.ref === "a1")).toMatchObject({ op: "ack" });
    await eventually(async () => (await deliveryOf(nid))?.status === DeliveryStatus.DELIVERED);

    tab2.send({ type: "read", ids: [id], ref: 7 });
    expect(await tab2.next((f) => f.type === "ok" && f.ref === 7)).toMatchObject({ op: "read", changed: 1 });
    // Both tabs learn the new unread count, so badges agree.
    expect(await tab1.next((f) => f.type === "unread")).toEqual({ type: "unread", count: 0, read: [id] });
    const d = await eventually(async () => {
      const x = await deliveryOf(nid);
      return x?.status === DeliveryStatus.READ ? x : undefined;
    });
    expect(d.events.map((e) => e.status)).toEqual([DeliveryStatus.PENDING, DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]);
  });

  it("stores for an offline user; the inbox arrives on connect, newest first, and the ack is recorded", async () => {
    // The inbox is in arrival order; workers run in parallel, so the second Send waits for the first.
    const n1 = await sendTo("u2", { subject: "First" });
    await eventually(async () => (await deliveryOf(n1))?.status === DeliveryStatus.SENT);
    const n2 = await sendTo("u2", { subject: "Second" });
    await eventually(async () => (await deliveryOf(n2))?.status === DeliveryStatus.SENT);
    const s = await connectAs("u2");
    expect(await s.next((f) => f.type === "hello")).toMatchObject({ unread: 2 });
    const notes = await s.waitCount(isNote, 2);
    expect(notes.map((f) => f.notification.title)).toEqual(["Second", "First"]);
    expect(s.frames[0].type).toBe("hello");
    s.send({ type: "ack", ids: notes.map((f) => f.notification.id) });
    await eventually(async () => (await deliveryOf(n1))?.status === DeliveryStatus.DELIVERED && (await deliveryOf(n2))?.status === DeliveryStatus.DELIVERED);
  });

  it("asks the user service nothing when the notification needs nothing from it", async () => {
    const tab = await connectAs("u7");
    await tab.next((f) => f.type === "hello");
    const before = stack.usersDemo.control.stats().calls.GetUsers ?? 0;
    // A locale named by the sender and a text that does not address the user: the in-app channel
    // needs only the user id, so the delivery goes through while the user service is down.
    stack.usersDemo.control.setFaults({ latencyMs: 0, errorRate: 0, down: true });
    try {
      const r = await api.send({
        idempotencyKey: `ws-nouser-${Date.now()}`,
        template: "plain",
        locale: "en",
        recipients: [{ target: { case: "userId", value: "u7" } }],
        channels: ["websocket"],
        data: { subject: "No lookup", body: "Doors open at 19:30" },
      });
      const f = await tab.next((x) => isNote(x) && x.notification.notificationId === r.notificationId);
      expect(f.notification.title).toBe("No lookup");
      expect([DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.READ]).toContain((await deliveryOf(r.notificationId))?.status);
    } finally {
      stack.usersDemo.control.setFaults({ latencyMs: 0, errorRate: 0, down: false });
    }
    expect(stack.usersDemo.control.stats().calls.GetUsers ?? 0).toBe(before);
  });

  it("reaches a user connected to a second gateway process (gateway role only, own listener)", async () => {
    const port = await freePort();
    const gw2 = await stack.startNode("gateway", { NOTIFY_WS_ADDR: `127.0.0.1:${port}` });
    try {
      expect(gw2.rt.api).toBeUndefined();
      const s = await connectAs("u5", `ws://127.0.0.1:${port}/ws`);
      await s.next((f) => f.type === "hello");
      expect(await gatewayStats(`http://127.0.0.1:${port}`)).toEqual({ connections: 1, users: 1, subscriptions: 1 });
      const nid = await sendTo("u5", { subject: "Via the second gateway" });
      const f = await s.next(isNote, 5000);
      expect(f.notification).toMatchObject({ notificationId: nid, title: "Via the second gateway" });
      await s.close();
    } finally {
      await gw2.stop();
    }
  });
});

describe("robustness", () => {
  it("answers bad input with a warning and keeps the connection", async () => {
    const s = await connectAs("u3");
    await s.next((f) => f.type === "hello");
    s.send("{not json");
    expect(await s.next((f) => f.type === "warning")).toMatchObject({ code: "malformed_json" });
    s.send({ type: "dance" });
    expect(await s.next((f) => f.type === "warning" && f.code === "unknown_type")).toMatchObject({ reason: 'unknown message type "dance"' });
    s.send({ type: "ack", ids: ["nope"], ref: "x" });
    expect(await s.next((f) => f.type === "warning" && f.code === "bad_ids")).toMatchObject({ ref: "x" });
    s.send({ type: "mute", category: "transactional" });
    expect(await s.next((f) => f.type === "warning" && f.code === "bad_mute")).toBeTruthy();
    s.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await s.next((f) => f.type === "warning" && f.code === "binary_frame")).toBeTruthy();
    s.send({ type: "ping", ref: 1 });
    expect(await s.next((f) => f.type === "pong")).toEqual({ type: "pong", ref: 1 });
    expect(s.ws.readyState).toBe(WebSocket.OPEN);
  });

  it("closes on an oversized frame (1009)", async () => {
    const s = await connectAs("u3");
    await s.next((f) => f.type === "hello");
    s.send(JSON.stringify({ type: "ping", pad: "x".repeat(70 * 1024) }));
    expect((await s.closed).code).toBe(1009);
  });

  it("warns a flooding client, then closes it with 1008", async () => {
    const s = await connectAs("u4");
    await s.next((f) => f.type === "hello");
    for (let i = 0; i < MAX_MSGS * 3; i++) s.send({ type: "ping" });
    const closed = await s.closed;
    expect(closed.code).toBe(1008);
    expect(closed.reason).toBe("too many messages");
    expect(s.frames.filter((f) => f.type === "warning" && f.code === "rate_limited")).toHaveLength(1);
    expect(s.frames.filter((f) => f.type === "pong")).toHaveLength(MAX_MSGS);
  });

  it("drops a disconnected user's registration and NATS subscription at once", async () => {
    const subject = createTopology(stack.prefix).subjects.wsUser("u6");
    const before = await gatewayStats();
    const s = await connectAs("u6");
    await s.next((f) => f.type === "hello");
    expect(await gatewayStats()).toEqual({ connections: before.connections + 1, users: before.users + 1, subscriptions: before.subscriptions + 1 });
    // A request to the user's subject with a subscriber times out (gateways never reply); without one
    // the server answers "no responders" at once.
    await expect(nc.request(subject, '{"type":"probe"}', { timeout: 300 })).rejects.toMatchObject({ code: "TIMEOUT" });
    await s.close();
    await eventually(async () => JSON.stringify(await gatewayStats()) === JSON.stringify(before), 2000, 20);
    await expect(nc.request(subject, '{"type":"probe"}', { timeout: 2000 })).rejects.toMatchObject({ code: "503" });
  });

  it("cuts off a peer that stops answering heartbeats", async () => {
    const s = await connectAs("u7", wsUrl, { autoPong: false });
    await s.next((f) => f.type === "hello");
    const t0 = Date.now();
    const closed = await s.closed;
    expect(closed.code).toBe(1006);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it("closes a slow reader once its buffer is full", async () => {
    const subject = createTopology(stack.prefix).subjects.wsUser("u8");
    const s = await connectAs("u8");
    await s.next((f) => f.type === "hello");
    // Stop reading: the kernel buffers fill, then the gateway's send buffer grows past 256 KiB.
    (s.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const payload = JSON.stringify({ type: "notification", notification: { id: "00000000-0000-0000-0000-000000000000", body: "x".repeat(60_000) } });
    const before = await gatewayStats();
    for (let i = 0; i < 600; i++) nc.publish(subject, payload);
    await nc.flush();
    await eventually(async () => (await gatewayStats()).connections === before.connections - 1, 30_000, 50);
  });
});

describe("authentication at upgrade", () => {
  it("refuses missing, expired and forged tokens with 401 and foreign origins with 403", async () => {
    expect(await upgradeStatus(wsUrl)).toBe(401);
    expect(await upgradeStatus(wsUrl, { token: await token("u1", -120) })).toBe(401);
    expect(await upgradeStatus(wsUrl, { token: await signUserToken("another-secret-of-at-least-32-chars!!", "u1") })).toBe(401);
    expect(await upgradeStatus(wsUrl, { token: "not.a.jwt" })).toBe(401);
    expect(await upgradeStatus(wsUrl, { token: await token("u1"), origin: "https://evil.example" })).toBe(403);
    expect(await upgradeStatus(wsUrl, { token: await token("u1"), origin: ORIGIN })).toBe(101);
    expect(await upgradeStatus(wsUrl.replace("/ws", "/other"), { token: await token("u1") })).toBe(404);
  });

  it("accepts the token as a subprotocol, as browsers send it, and selects notify.v1", async () => {
    const s = await connectAs("u9", wsUrl, { tokenAsProtocol: true, origin: ORIGIN });
    expect(s.ws.protocol).toBe("notify.v1");
    expect(await s.next((f) => f.type === "hello")).toMatchObject({ userId: "u9" });
  });
});

describe("mutes", () => {
  it("skips a muted sender's notifications on every channel, and delivers again after unmute", async () => {
    const s = await connectAs("u10");
    await s.next((f) => f.type === "hello");
    s.send({ type: "mute", sender: "u11", ref: "m" });
    expect(await s.next((f) => f.type === "ok" && f.ref === "m")).toMatchObject({ op: "mute", sender: "u11", changed: true });

    const muted = await sendTo("u10", { senderId: "u11", channels: ["email", "websocket"], subject: "u11 liked your review" });
    const g = await eventually(async () => {
      const x = await api.get({ notificationId: muted });
      return x.deliveries.length === 2 ? x : undefined;
    });
    for (const d of g.deliveries) {
      expect(d.status).toBe(DeliveryStatus.SKIPPED);
      expect(d.lastError).toBe("muted");
    }
    const other = await sendTo("u10", { senderId: "u12", subject: "u12 liked your review" });
    const f = await s.next(isNote, 5000);
    expect(f.notification).toMatchObject({ notificationId: other, senderId: "u12" });

    s.send({ type: "unmute", sender: "u11", ref: "u" });
    await s.next((x) => x.type === "ok" && x.ref === "u");
    const again = await sendTo("u10", { senderId: "u11", subject: "u11 again" });
    expect((await s.waitCount(isNote, 2, 5000))[1].notification.notificationId).toBe(again);
  });

  it("skips a muted category", async () => {
    const s = await connectAs("u13");
    await s.next((f) => f.type === "hello");
    s.send({ type: "mute", category: "marketing", ref: 1 });
    await s.next((f) => f.type === "ok" && f.ref === 1);
    const nid = await sendTo("u13", { category: "marketing" });
    await eventually(async () => (await deliveryOf(nid))?.status === DeliveryStatus.SKIPPED);
  });
});

describe("InboxService", () => {
  it("pages a user's own inbox, marks read, and never shows or changes another user's items", async () => {
    const mine: string[] = [];
    for (const subject of ["One", "Two", "Three"]) {
      mine.push(await sendTo("u20", { subject }));
      await eventually(async () => (await deliveryOf(mine[mine.length - 1]))?.status === DeliveryStatus.SENT);
    }
    const theirs = await sendTo("u21", { subject: "Private" });
    await eventually(async () => (await deliveryOf(theirs))?.status === DeliveryStatus.SENT);
    const inbox = createConnectClient(InboxService, { baseUrl: node.grpcUrl, apiKey: await token("u20") });
    const other = createConnectClient(InboxService, { baseUrl: node.grpcUrl, apiKey: await token("u21") });

    const p1 = await inbox.list({ pageSize: 2 });
    expect(p1.items.map((i) => i.title)).toEqual(["Three", "Two"]);
    expect(p1.unreadCount).toBe(3);
    const p2 = await inbox.list({ pageSize: 2, pageToken: p1.nextPageToken });
    expect(p2.items.map((i) => i.title)).toEqual(["One"]);
    expect(p2.nextPageToken).toBe("");

    const theirItem = (await other.list({})).items[0];
    expect(theirItem.title).toBe("Private");
    expect((await inbox.markRead({ ids: [theirItem.id] })).marked).toBe(0);
    expect((await other.unreadCount({})).count).toBe(1);

    const r = await inbox.markRead({ ids: [p1.items[0].id] });
    expect(r).toMatchObject({ marked: 1, unreadCount: 2 });
    await eventually(async () => (await deliveryOf(mine[2]))?.status === DeliveryStatus.READ);
    expect((await inbox.list({ unreadOnly: true })).items.map((i) => i.title)).toEqual(["Two", "One"]);
    expect((await inbox.markAllRead({})).marked).toBe(2);
    expect((await inbox.unreadCount({})).count).toBe(0);
    expect((await other.list({})).items.map((i) => i.id)).toEqual([theirItem.id]);
    expect((await other.unreadCount({})).count).toBe(1);
  });

  it("refuses calls without a valid user token", async () => {
    for (const apiKey of [undefined, stack.apiKey, await token("u20", -120), await signUserToken("another-secret-of-at-least-32-chars!!", "u20")]) {
      const c = createConnectClient(InboxService, { baseUrl: node.grpcUrl, apiKey });
      const err = await c.unreadCount({}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    }
  });
});
