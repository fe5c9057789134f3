import { Code, ConnectError } from "@connectrpc/connect";
import { beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import { useTestDatabase } from "../../test/harness/database.js";
import { createTemplateCatalog } from "./catalog.js";
import { updateTemplate, publishVersion, archiveTemplate, type UpdateInput } from "./manage.js";
import type { TemplateCatalog } from "./types.js";

const log = createLogger({ level: "silent" });
const testDb = useTestDatabase("template_cat");
let db: Db;
let catalog: TemplateCatalog;

beforeAll(() => {
  db = testDb.db;
  catalog = createTemplateCatalog({ db, log });
});

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<{ code: Code; message: string }> {
  try {
    await (typeof p === "function" ? p() : p);
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
  throw new Error("expected an error");
}

const plainUpdate = (subject: string, extra: Partial<UpdateInput> = {}): UpdateInput => ({
  key: "plain",
  category: "",
  channels: [],
  defaultLocale: "",
  variables: [
    { name: "subject", type: "string", required: true },
    { name: "body", type: "string", required: true },
  ],
  contents: [
    { locale: "en", parts: { subject, html: "<p>{{body}}</p>", text: "{{body}}", title: "{{subject}}", body: "{{body}}" } },
  ],
  layout: "",
  layoutVersion: 0,
  withoutLayout: false,
  publish: false,
  expectedLatestVersion: 0,
  note: "",
  ...extra,
});

describe("seed templates", () => {
  it("are all current, in ru and en, with their channels", async () => {
    const expected: Record<string, [string, string[]]> = {
      welcome: ["transactional", ["email"]],
      plain: ["transactional", ["email", "websocket"]],
      review_liked: ["service", ["email", "websocket"]],
      new_films_weekly: ["marketing", ["email"]],
      subscription_expiring: ["service", ["email", "websocket"]],
      birthday: ["marketing", ["email"]],
    };
    for (const [key, [category, channels]] of Object.entries(expected)) {
      const t = await catalog.resolveForSend(key);
      expect(t, key).toMatchObject({ key, version: 1, category, channels, defaultLocale: "en", locales: ["en", "ru"] });
    }
  });

  it("render welcome with the user's name and confirmation link, without an unsubscribe link", async () => {
    const t = await catalog.resolveForSend("welcome");
    const r = await catalog.render(t.versionId, "ru", "email", {
      user: { name: "Анна" },
      confirm_url: "https://cinema.example/l/abc",
    });
    expect(r.locale).toBe("ru");
    expect(r.parts.subject).toBe("Добро пожаловать в онлайн-кинотеатр, Анна!");
    expect(r.parts.html).toContain('href="https:&#x2F;&#x2F;cinema.example&#x2F;l&#x2F;abc"');
    expect(r.parts.html).toContain("ул. Тверская, 12");
    expect(r.parts.html).not.toContain("Отписаться");
    expect(r.parts.text).toContain("Подтвердите, пожалуйста, адрес электронной почты: https://cinema.example/l/abc");
  });

  it("render the weekly list with the unsubscribe link in html and text", async () => {
    const t = await catalog.resolveForSend("new_films_weekly");
    const r = await catalog.render(t.versionId, "en", "email", {
      films: [
        { title: "Dune", year: 2024, url: "https://cinema.example/f/1" },
        { title: "Anora", url: "https://cinema.example/f/2" },
      ],
      unsubscribe_url: "https://cinema.example/u/tok",
    });
    expect(r.parts.text).toContain("- Dune (2024): https://cinema.example/f/1\n- Anora: https://cinema.example/f/2\n");
    expect(r.parts.text).toContain("Unsubscribe: https://cinema.example/u/tok");
    expect(r.parts.html).toContain(">Unsubscribe</a>");
  });

  it("render review_liked for websocket", async () => {
    const t = await catalog.resolveForSend("review_liked");
    const r = await catalog.render(t.versionId, "en", "websocket", { count: 3, film_title: "Dune" });
    expect(r.parts).toEqual({ title: "Your review got likes", body: "3 people liked your review of Dune" });
  });
});

describe("resolveForSend", () => {
  it("is NotFound naming the field for an unknown key or version", async () => {
    expect(await codeOf(catalog.resolveForSend("nope", undefined, "items[2].template"))).toEqual({
      code: Code.NotFound,
      message: 'items[2].template: template "nope" not found',
    });
    expect(await codeOf(catalog.resolveForSend("welcome", 99))).toEqual({
      code: Code.NotFound,
      message: 'template: template "welcome" has no version 99',
    });
  });
});

describe("validateData", () => {
  it("names missing and wrongly typed variables, and ignores user.*", async () => {
    const t = await catalog.resolveForSend("review_liked");
    expect(() => catalog.validateData(t, { count: 3, film_title: "Dune" })).not.toThrow();
    const missing = await codeOf(() => catalog.validateData(t, { count: 3 }));
    expect(missing).toEqual({ code: Code.InvalidArgument, message: "data.film_title: required variable missing" });
    const wrong = await codeOf(() => catalog.validateData(t, { count: "3", film_title: "x" }, "items[0].data"));
    expect(wrong.message).toBe("items[0].data.count: expected number, got string");
    const js = await codeOf(() => catalog.validateData(t, { count: 1, film_title: "x", review_url: "javascript:alert(1)" }));
    expect(js.message).toBe("data.review_url: expected an absolute http(s) URL");
    const platform = await codeOf(() => catalog.validateData(t, { count: 1, film_title: "x", unsubscribe_url: "javascript:x" }));
    expect(platform.message).toBe("data.unsubscribe_url: expected an absolute http(s) URL");
    expect(() => catalog.validateData(t, { count: 1, film_title: "x", user: 5 })).not.toThrow();
  });
});

describe("versions", () => {
  it("keep rendering the pinned version after a newer one is published", async () => {
    const v1 = await catalog.resolveForSend("plain");
    await catalog.render(v1.versionId, "en", "email", { subject: "warm the cache", body: "b" });
    const draft = await updateTemplate(db, plainUpdate("v2: {{subject}}"), "test");
    expect(draft.version.version).toBe(2);
    expect(draft.current).toBe(false);
    expect((await catalog.resolveForSend("plain")).version).toBe(1);
    expect((await catalog.resolveForSend("plain", 2)).version).toBe(2);

    await publishVersion(db, "plain", 2);
    const v2 = await catalog.resolveForSend("plain");
    expect(v2.version).toBe(2);
    expect(v2.locales).toEqual(["en"]);
    const old = await catalog.render(v1.versionId, "en", "email", { subject: "S", body: "B" });
    const now = await catalog.render(v2.versionId, "en", "email", { subject: "S", body: "B" });
    expect(old.parts.subject).toBe("S");
    expect(now.parts.subject).toBe("v2: S");
    // A fresh catalog (another worker) loads the old version from MariaDB and renders it the same.
    const other = createTemplateCatalog({ db, log });
    expect((await other.render(v1.versionId, "en", "email", { subject: "S", body: "B" })).parts.subject).toBe("S");
  });

  it("fall back to the default locale when the requested one has no content", async () => {
    const v2 = await catalog.resolveForSend("plain");
    const r = await catalog.render(v2.versionId, "ru", "websocket", { subject: "S", body: "B" });
    expect(r.locale).toBe("en");
    expect(r.parts).toEqual({ title: "S", body: "B" });
    const v1 = await catalog.resolveForSend("plain", 1);
    expect((await catalog.render(v1.versionId, "ru", "email", { subject: "S", body: "B" })).locale).toBe("ru");
    expect((await catalog.render(v1.versionId, "de-AT", "email", { subject: "S", body: "B" })).locale).toBe("en");
  });

  it("refuse a channel the version has no content for, and archived templates at Send", async () => {
    const w = await catalog.resolveForSend("welcome");
    expect((await codeOf(catalog.render(w.versionId, "en", "websocket", {}))).code).toBe(Code.InvalidArgument);
    await archiveTemplate(db, "birthday", false);
    expect(await codeOf(catalog.resolveForSend("birthday"))).toEqual({
      code: Code.FailedPrecondition,
      message: 'template: template "birthday" is archived',
    });
    await archiveTemplate(db, "birthday", true);
    expect((await catalog.resolveForSend("birthday")).key).toBe("birthday");
  });
});

describe("needsUser", () => {
  it("is true only when the channel's parts read user.* or the user's locale would choose among several", async () => {
    const plain1 = await catalog.resolveForSend("plain", 1);
    expect(plain1.locales.length).toBeGreaterThan(1);
    // Several locales and none named: the user's locale chooses.
    expect(await catalog.needsUser(plain1.versionId, "websocket", undefined)).toBe(true);
    // A named locale, and nothing about the user in the text.
    expect(await catalog.needsUser(plain1.versionId, "websocket", "ru")).toBe(false);
    expect(await catalog.needsUser(plain1.versionId, "email", "en")).toBe(false);
    const welcome = await catalog.resolveForSend("welcome");
    expect(await catalog.needsUser(welcome.versionId, "email", "en")).toBe(true);

    const probe = await updateTemplate(
      db,
      plainUpdate("{{subject}}", {
        withoutLayout: true,
        publish: true,
        contents: [{ locale: "en", parts: { subject: "{{subject}}", html: "<p>{{body}}</p>", text: "{{body}}", title: "{{#user}}Hi {{name}}{{/user}}", body: "{{body}}" } }],
      }),
      "test",
    );
    const v = probe.version.id;
    expect(await catalog.needsUser(v, "websocket", undefined)).toBe(true);
    expect(await catalog.needsUser(v, "email", undefined)).toBe(false);
  });
});
