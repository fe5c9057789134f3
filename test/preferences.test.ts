import { generateKeyPairSync, randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Code, ConnectError } from "@connectrpc/connect";
import { dkimVerify } from "mailauth/lib/dkim/verify.js";
import { DeliveryStatus, NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { PreferenceService } from "../gen/notify/v1/preference_service_pb.js";
import { formatClock, localSeconds } from "../internal/preference/rules.js";
import { findToken, issueTokens } from "../internal/preference/tokens.js";
import { createDb } from "../internal/store/db.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";
import type { SinkMessage } from "./harness/smtp-sink.js";

let stack: TestStack;
let node: TestNode;
let notify: ReturnType<typeof createConnectClient<typeof NotificationService>>;
let prefs: ReturnType<typeof createConnectClient<typeof PreferenceService>>;

const { privateKey, publicKey } = generateKeyPairSync("rsa", {
  modulusLength: 2048,
  privateKeyEncoding: { type: "pkcs8", format: "pem" },
  publicKeyEncoding: { type: "spki", format: "der" },
});
const DKIM_TXT = `v=DKIM1; k=rsa; p=${publicKey.toString("base64")}`;

type Target = { userId: string } | { email: string };
let seq = 0;

/** Sends one notification on email and returns its id. */
async function send(template: string, to: Target, data: Record<string, unknown> = {}, category = ""): Promise<string> {
  const res = await notify.send({
    idempotencyKey: `prefs-${++seq}-${randomBytes(3).toString("hex")}`,
    template,
    recipients: [{ target: "userId" in to ? { case: "userId", value: to.userId } : { case: "email", value: to.email } }],
    channels: ["email"],
    category,
    data: data as never,
  });
  return res.notificationId;
}

const marketing = (to: Target) => send("birthday", to, { promo_code: "GIFT" });
const transactional = (to: Target, subject = "Your ticket") => send("plain", to, { subject, body: "Row 5" });

/** Waits until the notification's only delivery reaches a final state and returns it. */
async function settled(notificationId: string) {
  return eventually(async () => {
    const g = await notify.get({ notificationId });
    const d = g.deliveries[0];
    return d && ![DeliveryStatus.PENDING, DeliveryStatus.SENDING].includes(d.status) ? d : undefined;
  });
}

const mailTo = (address: string) => stack.sink.messages().filter((m) => m.to.includes(address));

async function waitForMail(address: string, count = 1): Promise<SinkMessage[]> {
  return eventually(async () => {
    const got = mailTo(address);
    return got.length >= count ? got : undefined;
  });
}

const tokenOf = (m: SinkMessage) => /\/u\/([A-Za-z0-9_-]{22})>/.exec(m.headers["list-unsubscribe"] ?? "")?.[1];

beforeAll(async () => {
  stack = await startTestStack("prefs", {
    users: 30,
    env: { NOTIFY_DKIM_DOMAIN: "cinema.example", NOTIFY_DKIM_SELECTOR: "t2025", NOTIFY_DKIM_PRIVATE_KEY: privateKey },
  });
  node = await stack.startNode("api,relay,planner,worker");
  notify = createConnectClient(NotificationService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
  prefs = createConnectClient(PreferenceService, { baseUrl: node.grpcUrl, apiKey: stack.apiKey });
});

afterAll(async () => {
  await stack?.close();
});

describe("preferences decide what the planner sends", () => {
  it("skips a category the user turned off on email, and only that one", async () => {
    await prefs.update({ userId: "u2", categories: [{ category: "marketing", channel: "email", enabled: false }] });
    const off = await settled(await marketing({ userId: "u2" }));
    expect(off.status).toBe(DeliveryStatus.SKIPPED);
    expect(off.lastError).toBe("preference");
    const other = await settled(await marketing({ userId: "u3" }));
    expect(other.status).toBe(DeliveryStatus.SENT);
    expect((await settled(await send("review_liked", { userId: "u2" }, { count: 2, film_title: "Anora" }))).status).toBe(DeliveryStatus.SENT);
    expect(mailTo("user2@example.test").some((m) => m.subject.startsWith("Happy birthday"))).toBe(false);
  });

  it("skips everything on a channel the user turned off, except transactional mail", async () => {
    await prefs.update({ userId: "u4", channels: [{ channel: "email", enabled: false }] });
    const svc = await settled(await send("review_liked", { userId: "u4" }, { count: 1, film_title: "Dune" }));
    expect(svc.status).toBe(DeliveryStatus.SKIPPED);
    expect(svc.lastError).toBe("preference");
    expect((await settled(await transactional({ userId: "u4" }))).status).toBe(DeliveryStatus.SENT);
    expect(mailTo("user4@example.test")).toHaveLength(1);
  });

  it("gives a globally opted-out user transactional mail only", async () => {
    await prefs.update({ userId: "u5", allOff: true });
    expect((await settled(await marketing({ userId: "u5" }))).lastError).toBe("preference");
    expect((await settled(await send("review_liked", { userId: "u5" }, { count: 1, film_title: "Dune" }))).lastError).toBe("preference");
    const tx = await settled(await transactional({ userId: "u5" }, "Confirm your email"));
    expect(tx.status).toBe(DeliveryStatus.SENT);
    const got = await waitForMail("user5@example.test");
    expect(got.map((m) => m.subject)).toEqual(["Confirm your email"]);
  });

  it("holds marketing in quiet hours until the window ends in the user's time zone", async () => {
    const user = (await node.ctx.users.getUser("u6"))!;
    const now = new Date();
    const t = localSeconds(now, user.timeZone);
    const endsIn = 5;
    const updated = await prefs.update({
      userId: "u6",
      quietHours: { start: formatClock((t - 600 + 86_400) % 86_400), end: formatClock((t + endsIn) % 86_400) },
    });
    // No zone was given: the directory's is taken.
    expect(updated.preferences?.timeZone).toBe(user.timeZone);
    const until = Math.floor(now.getTime() / 1000) * 1000 + endsIn * 1000;
    const id = await marketing({ userId: "u6" });
    const held = await eventually(async () => (await notify.get({ notificationId: id })).deliveries[0]);
    expect(held.status).toBe(DeliveryStatus.PENDING);
    expect(held.events[0].detail).toMatch(/^held until /);
    // Service mail is not held.
    expect((await settled(await send("review_liked", { userId: "u6" }, { count: 1, film_title: "Dune" }))).status).toBe(DeliveryStatus.SENT);
    const heldId = `<${held.id}@cinema.example>`;
    expect(stack.sink.countFor(heldId)).toBe(0);
    const [mail] = await eventually(async () => {
      const m = stack.sink.messages().filter((x) => x.messageId === heldId);
      return m.length ? m : undefined;
    }, 20_000);
    expect(mail.receivedAt).toBeGreaterThanOrEqual(until - 50);
    expect((await settled(id)).status).toBe(DeliveryStatus.SENT);
  });
});

describe("the preferred locale", () => {
  it("renders in the locale the user chose over the directory's, unless the sender asked for one", async () => {
    const user = (await node.ctx.users.getUser("u14"))!;
    const [want, subject] = user.locale === "ru" ? ["en", /^Happy birthday/] : ["ru", /^С днём рождения/];
    await prefs.update({ userId: "u14", locale: want });
    await settled(await marketing({ userId: "u14" }));
    const [mail] = await waitForMail("user14@example.test");
    expect(mail.subject).toMatch(subject);
    expect(mail.html).toContain(`lang="${want}"`);
    const asked = await notify.send({
      idempotencyKey: `prefs-locale-${randomBytes(3).toString("hex")}`,
      template: "birthday",
      recipients: [{ target: { case: "userId", value: "u14" } }],
      channels: ["email"],
      locale: want === "ru" ? "en" : "ru",
    });
    await settled(asked.notificationId);
    const second = (await waitForMail("user14@example.test", 2))[1];
    expect(second.subject).not.toMatch(subject);
  });
});

describe("suppression", () => {
  it("suppresses an address after a 550 and skips later mail to it, for bare addresses and users", async () => {
    stack.sink.rejectRecipients("bounce@example.test");
    stack.sink.rejectRecipients("user7@example.test");
    const bare = await settled(await transactional({ email: "bounce@example.test" }));
    expect(bare.status).toBe(DeliveryStatus.FAILED);
    expect(bare.lastError).toMatch(/^(recipient|smtp)_rejected: smtp 550/);
    const usr = await settled(await transactional({ userId: "u7" }));
    expect(usr.status).toBe(DeliveryStatus.FAILED);

    const list = await eventually(async () => {
      const r = await prefs.listSuppressions({ query: "example.test" });
      return r.suppressions.length >= 2 ? r : undefined;
    });
    expect(list.suppressions.map((s) => s.address).sort()).toEqual(["bounce@example.test", "user7@example.test"]);
    expect(list.suppressions.every((s) => s.reason === "hard_bounce" && s.scope === "*")).toBe(true);

    const faultsBefore = stack.sink.stats().faults;
    const again = await settled(await transactional({ email: "bounce@example.test" }));
    expect(again.status).toBe(DeliveryStatus.SKIPPED);
    expect(again.lastError).toBe("suppressed");
    // Planned as skipped: never reached a worker.
    expect(again.events.map((e) => e.status)).toEqual([DeliveryStatus.SKIPPED]);
    const againUser = await settled(await transactional({ userId: "u7" }));
    expect(againUser.status).toBe(DeliveryStatus.SKIPPED);
    expect(againUser.lastError).toBe("suppressed");
    expect(stack.sink.stats().faults).toBe(faultsBefore);

    // Operators lift it; mail flows again once the mailbox exists.
    stack.sink.clearRejections();
    expect((await prefs.liftSuppression({ address: "USER7@example.test" })).lifted).toBe(1);
    expect((await settled(await transactional({ userId: "u7" }))).status).toBe(DeliveryStatus.SENT);
    expect((await settled(await transactional({ email: "bounce@example.test" }))).lastError).toBe("suppressed");
  });

  it("takes manual suppressions (complaints) and pages through them", async () => {
    for (let i = 0; i < 3; i++) await prefs.addSuppression({ address: `complainer${i}@example.org`, reason: "complaint" });
    const p1 = await prefs.listSuppressions({ query: "complainer", pageSize: 2 });
    expect(p1.suppressions.map((s) => s.address)).toEqual(["complainer2@example.org", "complainer1@example.org"]);
    const p2 = await prefs.listSuppressions({ query: "complainer", pageSize: 2, pageToken: p1.nextPageToken });
    expect(p2.suppressions.map((s) => s.address)).toEqual(["complainer0@example.org"]);
    expect(p2.nextPageToken).toBe("");
    const bad = await prefs.addSuppression({ address: "not an address" }).catch((e) => e);
    expect((bad as ConnectError).code).toBe(Code.InvalidArgument);
  });
});

describe("one-click unsubscribe", () => {
  it("marketing mail carries the link and headers; GET does not unsubscribe; POST does", async () => {
    await settled(await marketing({ userId: "u8" }));
    const [mail] = await waitForMail("user8@example.test");
    const token = tokenOf(mail);
    expect(token).toBeDefined();
    const url = `${node.cfg.publicUrl}/u/${token}`;
    expect(mail.headers["list-unsubscribe"]).toBe(`<${url}>`);
    expect(mail.headers["list-unsubscribe-post"]).toBe("List-Unsubscribe=One-Click");
    expect(mail.html.replaceAll("&#x2F;", "/")).toContain(`href="${url}"`);
    expect(mail.text).toContain(url);

    const page = await fetch(`${node.httpUrl}/u/${token}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('method="post"');
    expect(html).toContain('name="scope" value="all"');
    const afterGet = await prefs.get({ userId: "u8" });
    expect(afterGet.preferences?.categories.find((c) => c.category === "marketing" && c.channel === "email")?.enabled).toBe(true);

    const post = await fetch(`${node.httpUrl}/u/${token}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "List-Unsubscribe=One-Click",
    });
    expect(post.status).toBe(200);
    const after = await prefs.get({ userId: "u8" });
    const m = after.preferences?.categories.find((c) => c.category === "marketing" && c.channel === "email");
    expect(m).toMatchObject({ enabled: false, isDefault: false });
    expect(after.preferences?.allOff).toBe(false);
    expect((await settled(await marketing({ userId: "u8" }))).lastError).toBe("preference");

    // Transactional mail has no unsubscribe link.
    await settled(await transactional({ userId: "u8" }, "Receipt"));
    const receipt = (await waitForMail("user8@example.test", 2)).find((x) => x.subject === "Receipt")!;
    expect(receipt.headers["list-unsubscribe"]).toBeUndefined();
    expect(receipt.text).not.toContain("/u/");
  });

  it("the page's second button turns everything off", async () => {
    await settled(await marketing({ userId: "u9" }));
    const token = tokenOf((await waitForMail("user9@example.test"))[0]);
    const post = await fetch(`${node.httpUrl}/u/${token}`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "scope=all",
    });
    expect(post.status).toBe(200);
    expect((await prefs.get({ userId: "u9" })).preferences?.allOff).toBe(true);
  });

  it("a bare address that unsubscribes is suppressed for marketing only", async () => {
    await settled(await marketing({ email: "fan@example.test" }));
    const token = tokenOf((await waitForMail("fan@example.test"))[0]);
    const post = await fetch(`${node.httpUrl}/u/${token}`, { method: "POST", body: "List-Unsubscribe=One-Click" });
    expect(post.status).toBe(200);
    const d = await settled(await marketing({ email: "fan@example.test" }));
    expect(d).toMatchObject({ status: DeliveryStatus.SKIPPED, lastError: "suppressed" });
    expect((await settled(await transactional({ email: "fan@example.test" }))).status).toBe(DeliveryStatus.SENT);
    const s = (await prefs.listSuppressions({ query: "fan@" })).suppressions;
    expect(s.map((x) => [x.scope, x.reason])).toEqual([["marketing", "unsubscribe"]]);
  });

  it("a batch of tokens: each distinct, 128 bits, and found with its own scope", async () => {
    const db = createDb({ url: stack.dbUrl });
    try {
      const scopes = Array.from({ length: 40 }, (_, i) => ({ userId: `batch-${i}`, address: "", category: "marketing", locale: "en", deliveryId: `d-${i}` }));
      const tokens = await issueTokens(db, scopes);
      expect(new Set(tokens).size).toBe(40);
      for (const t of tokens) expect(Buffer.from(t, "base64url")).toHaveLength(16);
      const found = await Promise.all(tokens.map((t) => findToken(db, t)));
      expect(found.map((f) => f?.userId)).toEqual(scopes.map((s) => s.userId));
    } finally {
      await db.end();
    }
  });

  it("a forged or malformed token is 404 for GET and POST", async () => {
    const forged = randomBytes(16).toString("base64url");
    expect((await fetch(`${node.httpUrl}/u/${forged}`)).status).toBe(404);
    expect((await fetch(`${node.httpUrl}/u/${forged}`, { method: "POST", body: "List-Unsubscribe=One-Click" })).status).toBe(404);
    expect((await fetch(`${node.httpUrl}/u/not-a-token`)).status).toBe(404);
  });
});

describe("deliverability", () => {
  it("signs mail with DKIM over the headers that matter, and a real verifier accepts it", async () => {
    await settled(await marketing({ userId: "u10" }));
    const [mail] = await waitForMail("user10@example.test");
    const resolver = async (name: string, type: string) => {
      if (type === "TXT" && name === "t2025._domainkey.cinema.example") return [[DKIM_TXT]];
      throw Object.assign(new Error(`no ${type} for ${name}`), { code: "ENOTFOUND" });
    };
    const res = await dkimVerify(Buffer.from(mail.raw), { resolver: resolver as never });
    expect(res.results).toHaveLength(1);
    expect(res.results[0].status.result).toBe("pass");
    expect(res.results[0].signingDomain).toBe("cinema.example");
    const h = /\bh=([^;]+)/.exec(mail.headers["dkim-signature"])![1].replace(/\s+/g, "").toLowerCase().split(":");
    for (const name of ["from", "to", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"]) {
      expect(h).toContain(name);
    }
    // A relay that adds or changes a signed header breaks the signature.
    const tampered = mail.raw.replace(/^Subject: .*$/m, "Subject: You won a prize");
    const bad = await dkimVerify(Buffer.from(tampered), { resolver: resolver as never });
    expect(bad.results[0].status.result).toBe("fail");
  });

  it("builds valid MIME: multipart/alternative, encoded UTF-8 subject, Date, Message-ID, Auto-Submitted", async () => {
    const subject = "Билеты готовы ✓";
    const d = await settled(await transactional({ email: "mime@example.test" }, subject));
    const [mail] = await waitForMail("mime@example.test");
    const head = mail.raw.slice(0, mail.raw.search(/\r?\n\r?\n/));
    expect(head).toMatch(/^Subject: =\?UTF-8\?[BQ]\?/im);
    expect(mail.subject).toBe(subject);
    expect(head).toMatch(/^Content-Type: multipart\/alternative;/im);
    expect(mail.raw).toMatch(/^Content-Type: text\/plain; charset=utf-8/im);
    expect(mail.raw).toMatch(/^Content-Type: text\/html; charset=utf-8/im);
    expect(head).toMatch(/^Date: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} \+0000$/m);
    expect(head).toMatch(/^MIME-Version: 1\.0$/m);
    expect(mail.messageId).toBe(`<${d.id}@cinema.example>`);
    expect(mail.headers["auto-submitted"]).toBe("auto-generated");
    expect(/[^\x00-\x7f]/.test(head)).toBe(false);
  });
});

describe("PreferenceService", () => {
  it("refuses an Update with a stale etag (ABORTED) and accepts the current one", async () => {
    const first = await prefs.get({ userId: "u11" });
    const e0 = first.preferences!.etag;
    const a = await prefs.update({ userId: "u11", etag: e0, locale: "ru" });
    const e1 = a.preferences!.etag;
    expect(e1).not.toBe(e0);
    const stale = await prefs.update({ userId: "u11", etag: e0, allOff: true }).catch((e) => e);
    expect(stale).toBeInstanceOf(ConnectError);
    expect((stale as ConnectError).code).toBe(Code.Aborted);
    const now = await prefs.get({ userId: "u11" });
    expect(now.preferences).toMatchObject({ allOff: false, locale: "ru", etag: e1 });
    const b = await prefs.update({ userId: "u11", etag: e1, allOff: true });
    expect(b.preferences?.allOff).toBe(true);
    // Partial: the locale set before is still there.
    expect(b.preferences?.locale).toBe("ru");
  });

  it("validates updates, naming the field", async () => {
    const cases: [Parameters<typeof prefs.update>[0], string][] = [
      [{ userId: "u12", categories: [{ category: "transactional", channel: "email", enabled: false }] }, "categories[0]"],
      [{ userId: "u12", categories: [{ category: "spam", channel: "email", enabled: false }] }, "categories[0].category"],
      [{ userId: "u12", channels: [{ channel: "pigeon", enabled: false }] }, "channels[0].channel"],
      [{ userId: "u12", timeZone: "Mars/Olympus" }, "time_zone"],
      [{ userId: "u12", quietHours: { start: "25:00", end: "07:00" } }, "quiet_hours.start"],
      [{ userId: "", allOff: true }, "user_id"],
    ];
    for (const [req, field] of cases) {
      const err = await prefs.update(req).catch((e) => e);
      expect((err as ConnectError).code, field).toBe(Code.InvalidArgument);
      expect((err as ConnectError).message).toContain(field);
    }
  });

  it("lists channels and categories with their defaults; transactional is locked", async () => {
    const r = await prefs.listChannels({});
    expect(r.channels.find((c) => c.name === "email")).toMatchObject({ available: true });
    const tx = r.categories.find((c) => c.name === "transactional")!;
    expect(tx.locked).toBe(true);
    expect(r.categories.map((c) => c.name).sort()).toEqual(["marketing", "service", "transactional"]);
    const g = await prefs.get({ userId: "u13" });
    expect(g.preferences?.categories.filter((c) => c.locked).every((c) => c.category === "transactional" && c.enabled)).toBe(true);
  });

  it("needs the right scopes", async () => {
    const { key } = await node.ctx.apiKeys.create("prefs-reader", ["read"]);
    const reader = createConnectClient(PreferenceService, { baseUrl: node.grpcUrl, apiKey: key });
    expect((await reader.get({ userId: "u1" })).preferences?.userId).toBe("u1");
    expect(((await reader.update({ userId: "u1", allOff: true }).catch((e) => e)) as ConnectError).code).toBe(Code.PermissionDenied);
    expect(((await reader.listSuppressions({}).catch((e) => e)) as ConnectError).code).toBe(Code.PermissionDenied);
  });
});
