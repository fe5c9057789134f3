import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import nodemailer from "nodemailer";
import { createLogger } from "../log/logger.js";
import { createMailCatcher, type MailCatcher } from "./mailcatcher.js";
import type { CaughtMessage } from "./message-store.js";

const log = createLogger({ level: "warn", name: "mailcatcher-test" });

function transportTo(port: number) {
  return nodemailer.createTransport({
    host: "127.0.0.1",
    port,
    secure: false,
    ignoreTLS: true,
    pool: true,
    maxConnections: 2,
    maxMessages: 10_000,
  });
}

describe("mailcatcher", () => {
  let mc: MailCatcher;
  let base: string;
  let transport: ReturnType<typeof transportTo>;
  const seen: CaughtMessage[] = [];

  beforeAll(async () => {
    mc = createMailCatcher({
      smtpAddr: "127.0.0.1:0",
      webAddr: "127.0.0.1:0",
      max: 3,
      log,
      onMessage: (m) => seen.push(m),
    });
    await mc.start();
    base = `http://127.0.0.1:${mc.webPort}`;
    transport = transportTo(mc.smtpPort);
  });

  afterEach(async () => {
    await fetch(`${base}/api/messages`, { method: "DELETE" });
  });

  afterAll(async () => {
    transport?.close();
    await mc?.close();
  });

  it("catches a multipart mail and serves it through the JSON API, raw source and pages", async () => {
    const info = await transport.sendMail({
      from: '"Кинотеатр" <noreply@cinema.test>',
      to: "Анна <user1@example.test>, user2@example.test",
      cc: "boss@example.test",
      bcc: "hidden@example.test",
      subject: "Новые фильмы недели <script>alert(1)</script>",
      text: "Привет, Анна! Смотрите новинки.",
      html: '<p>Привет, <b>Анна</b>!</p><script>alert("x")</script>',
      headers: { "List-Unsubscribe": "<https://cinema.test/u/abc>", "X-Delivery-Id": "d-123" },
      messageId: "<d-123@cinema.test>",
      date: new Date("2026-05-01T10:00:00Z"),
      attachments: [{ filename: "ticket.txt", content: "seat 7A", contentType: "text/plain" }],
    });
    expect(info.accepted).toHaveLength(4);

    const res = await fetch(`${base}/api/messages`);
    expect(res.status).toBe(200);
    const list = (await res.json()) as CaughtMessage[];
    expect(list).toHaveLength(1);
    const m = list[0];
    expect(m.messageId).toBe("<d-123@cinema.test>");
    expect(m.from).toContain("noreply@cinema.test");
    expect(m.from).toContain("Кинотеатр");
    expect(m.to).toEqual(["user1@example.test", "user2@example.test"]);
    expect(m.cc).toEqual(["boss@example.test"]);
    expect([...m.envelope.to].sort()).toEqual(
      ["boss@example.test", "hidden@example.test", "user1@example.test", "user2@example.test"].sort(),
    );
    expect(m.envelope.from).toBe("noreply@cinema.test");
    expect(m.subject).toBe("Новые фильмы недели <script>alert(1)</script>");
    expect(m.text?.trim()).toBe("Привет, Анна! Смотрите новинки.");
    expect(m.html).toContain("<b>Анна</b>");
    expect(m.headers["list-unsubscribe"]).toBe("<https://cinema.test/u/abc>");
    expect(m.headers["x-delivery-id"]).toBe("d-123");
    expect(m.headers["message-id"]).toBe("<d-123@cinema.test>");
    expect(m.headers["content-type"]).toMatch(/^multipart\/mixed/);
    expect(m.date).toBe("2026-05-01T10:00:00.000Z");
    expect(m.attachments).toEqual([{ filename: "ticket.txt", contentType: "text/plain", size: 7 }]);
    expect(seen.at(-1)?.id).toBe(m.id);
    expect(mc.messages()[0].id).toBe(m.id);

    const one = (await (await fetch(`${base}/api/messages/${m.id}`)).json()) as CaughtMessage;
    expect(one).toEqual(m);
    expect((await fetch(`${base}/api/messages/999999`)).status).toBe(404);

    const raw = await fetch(`${base}/api/messages/${m.id}/raw`);
    expect(raw.headers.get("content-type")).toBe("message/rfc822");
    const rawText = await raw.text();
    expect(rawText).toMatch(/^Message-ID: <d-123@cinema\.test>$/im);
    expect(Buffer.byteLength(rawText)).toBe(m.size);

    const filtered = (await (await fetch(`${base}/api/messages?to=USER2@example.test`)).json()) as CaughtMessage[];
    expect(filtered).toHaveLength(1);
    expect(await (await fetch(`${base}/api/messages?to=nobody@example.test`)).json()).toEqual([]);

    // Pages escape everything and isolate the HTML body.
    const listPage = await (await fetch(`${base}/`)).text();
    expect(listPage).toContain("&lt;script&gt;alert(1)&lt;/script&gt;");
    expect(listPage).not.toContain("<script>");
    expect(listPage).toContain(`href="/messages/${m.id}"`);
    const viewRes = await fetch(`${base}/messages/${m.id}`);
    expect(viewRes.headers.get("content-security-policy")).toContain("default-src 'none'");
    const view = await viewRes.text();
    expect(view).not.toContain("<script>");
    expect(view).toMatch(/<iframe sandbox="" [^>]*srcdoc="&lt;p&gt;Привет, &lt;b&gt;Анна&lt;\/b&gt;/);
    expect(view).toContain("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;");
    expect((await fetch(`${base}/messages/%E0%A4%A`)).status).toBe(400);
  });

  it("keeps only the newest N messages, newest first", async () => {
    for (const i of [1, 2, 3, 4, 5]) {
      await transport.sendMail({
        from: "noreply@cinema.test",
        to: `user${i}@example.test`,
        subject: `mail ${i}`,
        text: `body ${i}`,
      });
    }
    const list = (await (await fetch(`${base}/api/messages`)).json()) as CaughtMessage[];
    expect(list.map((m) => m.subject)).toEqual(["mail 5", "mail 4", "mail 3"]);
    expect(list.map((m) => m.to[0])).toEqual(["user5@example.test", "user4@example.test", "user3@example.test"]);
    expect(list.every((m) => m.html === null)).toBe(true);
    // The dropped ones are gone from every endpoint, not just the list.
    const dropped = seen.find((m) => m.subject === "mail 1")!;
    expect((await fetch(`${base}/api/messages/${dropped.id}/raw`)).status).toBe(404);
  });

  it("DELETE /api/messages clears everything", async () => {
    await transport.sendMail({ from: "a@cinema.test", to: "b@example.test", subject: "x", text: "y" });
    expect(mc.messages()).toHaveLength(1);
    const del = await fetch(`${base}/api/messages`, { method: "DELETE" });
    expect(del.status).toBe(204);
    expect(await (await fetch(`${base}/api/messages`)).json()).toEqual([]);
    expect(mc.messages()).toEqual([]);
  });
});
