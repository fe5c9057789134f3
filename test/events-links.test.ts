import http from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, toBinary, toJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type Client } from "@connectrpc/connect";
import mysql from "mysql2/promise";
import { connect, headers as natsHeaders, type NatsConnection } from "nats";
import { UserRegisteredSchema } from "../gen/notify/v1/events_pb.js";
import { TriggerService, TriggerAction } from "../gen/notify/v1/trigger_service_pb.js";
import { SettingsService } from "../gen/notify/v1/settings_service_pb.js";
import { DemoAdminService } from "../gen/cinema/users/v1/demo_admin_service_pb.js";
import { UserDirectory } from "../gen/cinema/users/v1/user_directory_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { createLinks } from "../internal/links/links.js";
import { createLinkRoute } from "../internal/links/route.js";
import { createHttpHandler } from "../internal/server/http-routes.js";
import { createLogger } from "../internal/log/logger.js";
import { eventually, NATS, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";
import { freePort } from "./harness/ports.js";

let stack: TestStack;
let node: TestNode;
let nc: NatsConnection;
let triggers: Client<typeof TriggerService>;
let settings: Client<typeof SettingsService>;
let demoAdmin: Client<typeof DemoAdminService>;
let directory: Client<typeof UserDirectory>;
let db: mysql.Connection;

const LINK = /http:\/\/127\.0\.0\.1:\d+\/l\/[A-Za-z0-9_-]{22}/;

async function publish(type: string, body: unknown, opts: { msgId?: string; binary?: Uint8Array; contentType?: string | null } = {}) {
  const h = natsHeaders();
  if (opts.msgId) h.set("Nats-Msg-Id", opts.msgId);
  const ct = opts.contentType === undefined ? (opts.binary ? null : "application/json") : opts.contentType;
  if (ct) h.set("content-type", ct);
  const data = opts.binary ?? new TextEncoder().encode(typeof body === "string" ? body : JSON.stringify(body));
  return nc.jetstream().publish(`${stack.prefix}.events.${type}`, data, { headers: h });
}

const registered = (eventId: string, userId: string) => publish("user_registered", { eventId, userId, occurredAt: new Date().toISOString() }, { msgId: eventId });

async function mailsTo(address: string, atLeast = 1, timeoutMs = 20_000) {
  return eventually(async () => {
    const ms = stack.sink.messages().filter((m) => m.to.includes(address));
    return ms.length >= atLeast ? ms : undefined;
  }, timeoutMs);
}

const linkIn = (text: string) => {
  const m = LINK.exec(text);
  if (!m) throw new Error(`no link in: ${text}`);
  return m[0];
};

const get = (url: string) => fetch(url, { redirect: "manual" });

/** Waits until the event router has settled every event published so far. */
async function drained() {
  const jsm = await nc.jetstreamManager();
  await eventually(async () => {
    const ci = await jsm.consumers.info(`${stack.prefix.toUpperCase()}_EVENTS`, "event-router");
    return ci.num_pending === 0 && ci.num_ack_pending === 0;
  });
}

async function confirmed(userId: string) {
  const r = await directory.getUsers({ ids: [userId] });
  return r.users[0].emailConfirmed;
}

async function query<T>(sql: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await db.query(sql, params);
  return rows as T[];
}

const expectCode = async (p: Promise<unknown>, code: Code, field?: string) => {
  const err = await p.then(
    () => undefined,
    (e) => e,
  );
  expect(err).toBeInstanceOf(ConnectError);
  expect((err as ConnectError).code).toBe(code);
  if (field) expect((err as ConnectError).message).toContain(field);
};

beforeAll(async () => {
  const port = await freePort();
  stack = await startTestStack("events", {
    users: 40,
    env: { NOTIFY_HTTP_ADDR: `127.0.0.1:${port}`, NOTIFY_PUBLIC_URL: `http://127.0.0.1:${port}` },
  });
  node = await stack.startNode("api,relay,planner,worker");
  nc = await connect({ servers: NATS });
  triggers = createConnectClient(TriggerService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  settings = createConnectClient(SettingsService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  demoAdmin = createConnectClient(DemoAdminService, { baseUrl: `http://${stack.usersDemo.address}` });
  directory = createConnectClient(UserDirectory, { baseUrl: `http://${stack.usersDemo.address}` });
  db = await mysql.createConnection(stack.dbUrl);
}, 60_000);

afterAll(async () => {
  await db?.end();
  await nc?.close();
  await stack?.close();
});

describe("user_registered -> welcome mail -> confirmation link", () => {
  it("sends the welcome mail whose link confirms the email and redirects to the configured page", async () => {
    expect(await confirmed("u5")).toBe(false);
    await registered("reg-u5", "u5");
    const [mail] = await mailsTo("user5@example.test");
    const url = linkIn(mail.text);
    expect(url.startsWith(node.httpUrl)).toBe(true);
    expect(mail.html.replaceAll("&#x2F;", "/")).toContain(url);
    await demoAdmin.resetStats({});

    const r = await get(url);
    expect(r.status).toBe(302);
    expect(r.headers.get("location")).toBe("https://cinema.example/");
    expect(r.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await confirmed("u5")).toBe(true);

    // Later clicks still redirect, without calling the user service again.
    const again = await get(url);
    expect(again.status).toBe(302);
    const stats = await demoAdmin.getStats({});
    expect(Number(stats.calls.ConfirmEmail ?? 0)).toBe(1);
    const [link] = await query<{ visits: number; confirm_state: string; first_visit_at: Date | null }>(
      "SELECT visits, confirm_state, first_visit_at FROM links WHERE user_id = 'u5'",
    );
    expect(link).toMatchObject({ visits: 2, confirm_state: "confirmed" });
    expect(link.first_visit_at).not.toBeNull();
    const [n] = await query<{ source: string; idempotency_key: string }>(
      "SELECT source, idempotency_key FROM notifications WHERE idempotency_key LIKE 'reg-u5:%'",
    );
    expect(n.source).toBe("events");
  });

  it("sends one mail with one working link when the same event is published twice", async () => {
    await registered("reg-u6", "u6");
    const dup = await registered("reg-u6", "u6");
    expect(dup.duplicate).toBe(true); // same Nats-Msg-Id within the window: the broker drops it
    // As if republished after the broker's dedup window: only the router's idempotency stands.
    await publish("user_registered", { eventId: "reg-u6", userId: "u6" }, { msgId: "reg-u6-republished" });
    await mailsTo("user6@example.test");
    await drained();
    await new Promise((r) => setTimeout(r, 1000));
    expect(stack.sink.messages().filter((m) => m.to.includes("user6@example.test"))).toHaveLength(1);
    // Handled twice at the same moment, both handlers may mint a link; the loser's is expired at once.
    const [links] = await query<{ n: number }>("SELECT COUNT(*) AS n FROM links WHERE user_id = 'u6' AND expires_at > NOW(3)");
    expect(Number(links.n)).toBe(1);
  });

  it("takes the protobuf binary form too", async () => {
    const ev = create(UserRegisteredSchema, { eventId: "reg-u7-bin", userId: "u7", name: "Seven" });
    await publish("user_registered", undefined, { binary: toBinary(UserRegisteredSchema, ev), msgId: ev.eventId });
    const [mail] = await mailsTo("user7@example.test");
    expect(linkIn(mail.text)).toMatch(LINK);
  });

  it("answers the same 404 page for unknown, forged, truncated, altered and expired links", async () => {
    await registered("reg-u8", "u8");
    const [mail] = await mailsTo("user8@example.test");
    const url = linkIn(mail.text);
    const code = url.slice(url.lastIndexOf("/") + 1);
    const base = url.slice(0, url.lastIndexOf("/") + 1);
    const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === "A" ? "B" : "A") + s.slice(i + 1);
    const bad = [
      `${base}AAAAAAAAAAAAAAAAAAAAAA`,
      `${base}${code.slice(0, 21)}`,
      `${base}${code}x`,
      `${base}${flip(code, 10)}`,
      `${base}${flip(code, 21)}`,
      `${base}${encodeURIComponent("../../etc/passwd")}`,
      `${base}`,
    ];
    const bodies = new Set<string>();
    for (const u of bad) {
      const r = await get(u);
      expect(r.status, u).toBe(404);
      bodies.add(await r.text());
    }

    // The same link three days and an hour later, with the links module's clock moved forward.
    const later = createLinks({
      db: node.ctx.db,
      users: node.ctx.users,
      settings: { get: async (k) => (k === "redirect_allowlist" ? ["cinema.example"] : "https://cinema.example/") },
      publicUrl: node.cfg.publicUrl,
      homeUrl: node.cfg.homeUrl,
      ttlMs: node.cfg.linkTtlMs,
      now: () => new Date(Date.now() + 73 * 3600_000),
      log: createLogger({ level: "silent", name: "t" }),
    });
    const srv = http.createServer(createHttpHandler([createLinkRoute(later, createLogger({ level: "silent", name: "t" }))], (_q, res) => void res.end()));
    await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
    try {
      const port = (srv.address() as { port: number }).port;
      const r = await get(`http://127.0.0.1:${port}/l/${code}`);
      expect(r.status).toBe(404);
      bodies.add(await r.text());
    } finally {
      srv.close();
    }
    expect(bodies.size).toBe(1);
    expect(await confirmed("u8")).toBe(false);
    // Today the link works: nothing above consumed it.
    expect((await get(url)).status).toBe(302);
    expect(await confirmed("u8")).toBe(true);
  });

  it("calls ConfirmEmail once for 50 concurrent clicks", async () => {
    await registered("reg-u10", "u10");
    const url = linkIn((await mailsTo("user10@example.test"))[0].text);
    await demoAdmin.resetStats({});
    const rs = await Promise.all(Array.from({ length: 50 }, () => get(url)));
    expect(rs.map((r) => r.status)).toEqual(Array(50).fill(302));
    const stats = await demoAdmin.getStats({});
    expect(Number(stats.calls.ConfirmEmail ?? 0)).toBe(1);
    expect(await confirmed("u10")).toBe(true);
    const [link] = await query<{ visits: number }>("SELECT visits FROM links WHERE user_id = 'u10'");
    expect(link.visits).toBe(50);
  });

  it("shows a try-again page when the user service is down and keeps the link valid", async () => {
    await registered("reg-u12", "u12");
    const url = linkIn((await mailsTo("user12@example.test"))[0].text);
    await demoAdmin.setFaults({ down: true });
    try {
      const r = await get(url);
      expect(r.status).toBe(503);
      expect(await r.text()).toContain("try the link again");
      const [link] = await query<{ visits: number; confirm_state: string }>("SELECT visits, confirm_state FROM links WHERE user_id = 'u12'");
      expect(link).toMatchObject({ visits: 0, confirm_state: "pending" });
    } finally {
      await demoAdmin.setFaults({});
    }
    // A circuit breaker may hold calls back for a few seconds after the service returns.
    await eventually(async () => (await get(url)).status === 302, 20_000, 500);
    expect(await confirmed("u12")).toBe(true);
  });

  it("ResendConfirmation mails a fresh link and expires the old one", async () => {
    await registered("reg-u11", "u11");
    const first = linkIn((await mailsTo("user11@example.test"))[0].text);
    const res = await triggers.resendConfirmation({ userId: "u11" });
    expect(res.expiredLinks).toBe(1);
    const mails = await mailsTo("user11@example.test", 2);
    const second = linkIn(mails[1].text);
    expect(second).not.toBe(first);
    expect((await get(first)).status).toBe(404);
    expect((await get(second)).status).toBe(302);
    await expectCode(triggers.resendConfirmation({ userId: "u11" }), Code.FailedPrecondition, "already confirmed");
    await expectCode(triggers.resendConfirmation({ userId: "nobody" }), Code.NotFound, "user_id");
  });
});

describe("redirect settings", () => {
  const attempts = ["//evil.example", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "https://cinema.example@evil.example"];
  for (const bad of attempts) {
    it(`refuses ${JSON.stringify(bad)} as confirm_redirect_url`, async () => {
      await expectCode(settings.updateSettings({ values: { confirm_redirect_url: bad } }), Code.InvalidArgument, "values.confirm_redirect_url");
    });
  }

  it("uses an allow-listed target, and checks it again when the link is used", async () => {
    await expectCode(settings.updateSettings({ values: { redirect_allowlist: ["not a host"] } }), Code.InvalidArgument, "values.redirect_allowlist");
    const res = await settings.updateSettings({
      values: { redirect_allowlist: ["cinema.example", "*.cinema.example"], confirm_redirect_url: "https://www.cinema.example/welcome" },
    });
    const url = res.settings.find((s) => s.key === "confirm_redirect_url");
    expect(toJson(ValueSchema, url!.value!) as JsonValue).toBe("https://www.cinema.example/welcome");
    expect(url!.isDefault).toBe(false);

    await registered("reg-u14", "u14");
    const link = linkIn((await mailsTo("user14@example.test"))[0].text);
    await registered("reg-u15", "u15");
    const link2 = linkIn((await mailsTo("user15@example.test"))[0].text);
    const r = await get(link);
    expect(r.headers.get("location")).toBe("https://www.cinema.example/welcome");

    // The allow-list shrinks: the stored target no longer passes, the home page is used instead.
    await settings.updateSettings({ values: { redirect_allowlist: ["cinema.example"] } });
    const r2 = await get(link2);
    expect(r2.status).toBe(302);
    expect(r2.headers.get("location")).toBe("https://cinema.example/");
    expect(await confirmed("u15")).toBe(true);
    await settings.updateSettings({ values: { redirect_allowlist: null, confirm_redirect_url: null } });
    const back = await settings.getSettings({ keys: ["confirm_redirect_url"] });
    expect(back.settings[0].isDefault).toBe(true);
  });
});

describe("events without a rule, undecodable events", () => {
  it("acks and counts an event no rule matches", async () => {
    await publish("popcorn_bought", { eventId: "pop-1", userIds: ["u20"], data: { size: "large" } }, { msgId: "pop-1" });
    const s = await eventually(async () => {
      const r = await triggers.stats({});
      return r.types.find((t) => t.eventType === "popcorn_bought" && t.unmatched === 1n);
    });
    expect(s.received).toBe(1n);
    expect(s.dead).toBe(0n);
    await drained();
    expect(stack.sink.messages().filter((m) => m.to.includes("user20@example.test"))).toHaveLength(0);
  });

  it("sends undecodable events to the dead letters with the reason", async () => {
    const sub = nc.subscribe(`${stack.prefix}.dlq.events`, { max: 3 });
    const got: { kind: string; reason: string; subject: string; data: string }[] = [];
    const done = (async () => {
      for await (const m of sub) {
        got.push({
          kind: m.headers?.get("Notify-Dead-Reason") ?? "",
          reason: m.headers?.get("Notify-Error") ?? "",
          subject: m.headers?.get("Notify-Original-Subject") ?? "",
          data: new TextDecoder().decode(m.data),
        });
      }
    })();
    await publish("user_registered", "\x08\x96\x01garbage\xff", { contentType: null, msgId: "junk-1" });
    await publish("user_registered", { userId: "u21" }, { msgId: "no-id-1" });
    await publish("review_liked", "{not json", { msgId: "badjson-1" });
    await Promise.race([done, new Promise((r) => setTimeout(r, 15_000))]);
    expect(got).toHaveLength(3);
    expect(got.every((g) => g.kind === "poison" && g.reason.startsWith("undecodable event"))).toBe(true);
    expect(got.find((g) => g.data.includes('"u21"'))?.reason).toContain("event_id");
    expect(got.map((g) => g.subject)).toContain(`${stack.prefix}.events.review_liked`);
    const s = await eventually(async () => (await triggers.stats({})).types.find((t) => t.eventType === "user_registered" && t.dead >= 2n));
    expect(s.dead).toBe(2n);
    // Kept for inspection and replay where the operators' tools look (the reliability area's table).
    const [t] = await query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'dead_letters'");
    if (Number(t.n) > 0) {
      const rows = await query<{ reason: string; error: string }>("SELECT reason, error FROM dead_letters WHERE source = 'events'");
      expect(rows).toHaveLength(3);
      expect(rows.every((r) => r.reason === "poison" && r.error.startsWith("undecodable event"))).toBe(true);
    }
  });
});

describe("review_liked aggregation and the digest", () => {
  it("sends one email for all likes within the window, with the count", async () => {
    const { rules } = await triggers.list({ eventType: "review_liked" });
    const email = rules.find((r) => r.channels.includes("email") && r.aggregateWindowSeconds > 0);
    expect(email?.aggregateWindowSeconds).toBe(3600);
    await triggers.update({ rule: { ...email!, aggregateWindowSeconds: 3 } });
    const like = (i: number) => ({ eventId: `like-${i}`, userId: "u16", likerId: `u${30 + i}`, reviewId: "r1", filmTitle: "Dune" });
    for (let i = 1; i <= 5; i++) await publish("review_liked", like(i), { msgId: `like-${i}` });
    await publish("review_liked", like(3), { msgId: "like-3-republished" });
    const [mail] = await mailsTo("user16@example.test", 1, 20_000);
    expect(mail.subject).toContain("Dune");
    expect(mail.subject).toContain("5");
    await new Promise((r) => setTimeout(r, 1500));
    expect(stack.sink.messages().filter((m) => m.to.includes("user16@example.test"))).toHaveLength(1);
    const [w] = await query<{ event_count: number; open_flag: number | null; notification_id: string | null }>(
      "SELECT event_count, open_flag, notification_id FROM event_aggregates WHERE user_id = 'u16' AND rule_id = ?",
      [email!.id],
    );
    expect(w).toMatchObject({ event_count: 5, open_flag: null });
    expect(w.notification_id).toMatch(/^[0-9a-f-]{36}$/);

    // A like after the window opens the next one.
    await publish("review_liked", like(6), { msgId: "like-6" });
    const mails = await mailsTo("user16@example.test", 2, 20_000);
    expect(mails[1].subject).toContain("1");
    await triggers.update({ rule: { ...email!, aggregateWindowSeconds: 3600 } });
  });

  it("stores film_added as a digest item once", async () => {
    const film = { eventId: "film-1", filmId: "f1", title: "Arrival", year: 2016, genres: ["sci-fi"] };
    await publish("film_added", film, { msgId: "film-1" });
    await publish("film_added", film, { msgId: "film-1-again" });
    const rows = await eventually(async () => {
      const r = await query<{ kind: string; payload: string }>("SELECT kind, payload FROM digest_items");
      return r.length ? r : undefined;
    });
    await new Promise((r) => setTimeout(r, 1000));
    const all = await query<{ kind: string; payload: string }>("SELECT kind, payload FROM digest_items");
    expect(all).toHaveLength(1);
    expect(rows[0].kind).toBe("film_added");
    expect(JSON.parse(all[0].payload)).toMatchObject({ event_id: "film-1", title: "Arrival", year: 2016, genres: ["sci-fi"] });
  });
});

describe("trigger rules", () => {
  it("validates rules and applies a condition", async () => {
    await expectCode(triggers.create({ rule: { eventType: "promo", template: "nope", enabled: true } }), Code.NotFound, "rule.template");
    await expectCode(triggers.create({ rule: { eventType: "Bad-Type", template: "plain" } }), Code.InvalidArgument, "rule.event_type");
    await expectCode(
      triggers.create({ rule: { eventType: "promo", template: "plain", condition: { "data.plan": { nested: true } } } }),
      Code.InvalidArgument,
      "rule.condition.data.plan",
    );
    await expectCode(triggers.create({ rule: { eventType: "promo", template: "plain", channels: ["pigeon"] } }), Code.InvalidArgument, "rule.channels[0]");
    const { rule } = await triggers.create({
      rule: { eventType: "promo", name: "premium promo", action: TriggerAction.SEND, template: "plain", channels: ["email"], condition: { "data.plan": ["premium", "gold"] }, enabled: true },
    });
    expect(rule!.id).toBeGreaterThan(0);
    await publish("promo", { eventId: "promo-1", userIds: ["u17"], data: { plan: "basic", subject: "Basic", body: "b" } }, { msgId: "promo-1" });
    await publish("promo", { eventId: "promo-2", userIds: ["u18"], data: { plan: "gold", subject: "Gold offer", body: "For you" } }, { msgId: "promo-2" });
    const [mail] = await mailsTo("user18@example.test");
    expect(mail.subject).toBe("Gold offer");
    const s = await eventually(async () => (await triggers.stats({})).types.find((t) => t.eventType === "promo" && t.received === 2n));
    expect(s.unmatched).toBe(1n);
    expect(stack.sink.messages().filter((m) => m.to.includes("user17@example.test"))).toHaveLength(0);

    await triggers.setEnabled({ id: rule!.id, enabled: false });
    expect((await triggers.get({ id: rule!.id })).rule?.enabled).toBe(false);
    expect((await triggers.delete({ id: rule!.id })).deleted).toBe(true);
    await expectCode(triggers.get({ id: rule!.id }), Code.NotFound);
  });
});
