import { randomBytes } from "node:crypto";
import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, createRouterTransport, type Client } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UserSchema, type User } from "../../gen/cinema/users/v1/user_directory_pb.js";
import {
  LocaleContentSchema,
  TemplateService,
  VariableSchema,
  VariableType,
  type LocaleContent,
  type Variable,
} from "../../gen/notify/v1/template_service_pb.js";
import { createLogger } from "../log/logger.js";
import { createDb, dropDatabase, ensureDatabase, type Db } from "../store/db.js";
import { migrate } from "../store/migrate.js";
import { createTemplateCatalog } from "./catalog.js";
import { createTemplateService } from "./service.js";
import type { TemplateCatalog } from "./types.js";

const url = `mysql://root@127.0.0.1:3306/t_template_svc_${randomBytes(4).toString("hex")}`;
const log = createLogger({ level: "silent" });
let db: Db;
let catalog: TemplateCatalog;
let client: Client<typeof TemplateService>;

const anna = create(UserSchema, { id: "u-7", name: "Anna <admin>", email: "anna@example.com", locale: "ru", favouriteGenres: ["drama"] });
const users = {
  async getUsers(ids: string[]): Promise<Map<string, User>> {
    return new Map(ids.filter((id) => id === anna.id).map((id) => [id, anna]));
  },
};

beforeAll(async () => {
  await ensureDatabase(url);
  await migrate(url);
  db = createDb({ url, poolSize: 4 });
  catalog = createTemplateCatalog({ db, log });
  const impl = createTemplateService({ catalog, db, log, users, actor: () => "tester" });
  client = createClient(TemplateService, createRouterTransport(({ service }) => service(TemplateService, impl)));
});

afterAll(async () => {
  await db?.end();
  await dropDatabase(url);
});

async function failure(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (err) {
    const e = ConnectError.from(err);
    return { code: e.code, message: e.rawMessage };
  }
  throw new Error("expected the call to fail");
}

const v = (name: string, type: VariableType, required: boolean, sample?: JsonValue): Variable =>
  create(VariableSchema, {
    name,
    type,
    required,
    sample: sample === undefined ? undefined : fromJson(ValueSchema, sample),
    description: `the ${name}`,
  });

const promoContents = (subject: string): LocaleContent[] => [
  create(LocaleContentSchema, 
  {
    locale: "en",
    parts: {
      subject,
      html: '<p>Hi {{user.name}}, {{film_title}} is here.</p>{{#link}}<a href="{{link}}">Watch</a>{{/link}}',
      text: "Hi {{user.name}}, {{film_title}} is here. {{link}}",
    },
  }),
  create(LocaleContentSchema, { locale: "ru", parts: { subject: "Премьера: {{film_title}}", html: "<p>{{film_title}}</p>", text: "{{film_title}}" } }),
];

const promoVars = [v("film_title", VariableType.STRING, true, "Dune"), v("link", VariableType.URL, false, "https://cinema.example/f/1")];

describe("Create", () => {
  it("stores the first version as current and Send can pin it", async () => {
    const r = await client.create({
      key: "premiere",
      name: "Premiere",
      category: "marketing",
      variables: promoVars,
      contents: promoContents("Premiere: {{film_title}}"),
      layout: "default",
    });
    expect(r.template).toMatchObject({ key: "premiere", currentVersion: 1, latestVersion: 1, channels: ["email"], defaultLocale: "en" });
    expect(r.version).toMatchObject({ version: 1, layout: "default", layoutVersion: 1, createdBy: "tester", current: true, locales: ["en", "ru"] });
    expect(r.version?.variables.map((x) => [x.name, x.type, x.required])).toEqual([
      ["film_title", VariableType.STRING, true],
      ["link", VariableType.URL, false],
    ]);
    const pinned = await catalog.resolveForSend("premiere");
    expect(pinned.variables[0]).toEqual({ name: "film_title", type: "string", required: true, sample: "Dune", description: "the film_title" });
  });

  it("rejects undeclared variables with the field path, line and column", async () => {
    const e = await failure(
      client.create({
        key: "bad1",
        category: "service",
        variables: promoVars,
        contents: [{ locale: "en", parts: { subject: "x", html: "<p>\n  {{#films}}{{title}}{{/films}}</p>", text: "{{film_title}}" } }],
      }),
    );
    expect(e.code).toBe(Code.InvalidArgument);
    expect(e.message).toBe('contents[0].parts.html: line 2, column 3: undeclared variable "films"; contents[0].parts.html: line 2, column 13: undeclared variable "title"');
  });

  it("rejects a syntax error with line and column", async () => {
    const e = await failure(
      client.create({ key: "bad2", category: "service", variables: promoVars, contents: [{ locale: "en", parts: { subject: "Hello {{film_title", html: "x", text: "x" } }] }),
    );
    expect(e).toEqual({ code: Code.InvalidArgument, message: "contents[0].parts.subject: line 1, column 7: Unclosed tag" });
  });

  it("rejects bad settings, missing parts and duplicates", async () => {
    const e = await failure(
      client.create({ key: "Bad Key", category: "spam", channels: ["email", "pigeon"], contents: [{ locale: "en", parts: { subject: "s" } }] }),
    );
    expect(e.message).toBe("key: must match [a-z0-9_.-]{1,100}");
    const e2 = await failure(
      client.create({ key: "bad3", category: "spam", channels: ["email", "pigeon"], contents: [{ locale: "en", parts: { subject: "s", title: "t" } }] }),
    );
    expect(e2.message.split("; ")).toEqual([
      "category: must be one of transactional, marketing, service",
      'channels[1]: unknown channel "pigeon" (known: email, websocket, sms)',
      "contents[0].parts.title: not a part of channels email, pigeon (parts: subject, html, text)",
      "contents[0].parts.html: required for channel email",
      "contents[0].parts.text: required for channel email",
    ]);
    const dup = await failure(client.create({ key: "welcome", category: "service", contents: [{ locale: "en", parts: { subject: "s", html: "h", text: "t" } }] }));
    expect(dup).toEqual({ code: Code.AlreadyExists, message: 'key: template "welcome" already exists' });
    const noLayout = await failure(
      client.create({ key: "bad4", category: "service", layout: "fancy", contents: [{ locale: "en", parts: { subject: "s", html: "h", text: "t" } }] }),
    );
    expect(noLayout).toEqual({ code: Code.NotFound, message: 'layout: layout "fancy" not found' });
  });
});

describe("Update, Publish, Get, ListVersions", () => {
  it("adds versions, publishes on request and keeps drafts unpublished", async () => {
    const draft = await client.update({ key: "premiere", variables: promoVars, contents: promoContents("New: {{film_title}}"), note: "new subject" });
    expect(draft.version).toMatchObject({ version: 2, current: false, category: "marketing", layout: "default", note: "new subject" });
    expect(draft.template).toMatchObject({ currentVersion: 1, latestVersion: 2 });
    const stale = await failure(client.update({ key: "premiere", expectedLatestVersion: 1, variables: promoVars, contents: promoContents("x") }));
    expect(stale.code).toBe(Code.Aborted);
    const published = await client.update({
      key: "premiere",
      name: "Premiere night",
      publish: true,
      withoutLayout: true,
      expectedLatestVersion: 2,
      variables: promoVars,
      contents: promoContents("Tonight: {{film_title}}"),
    });
    expect(published.template).toMatchObject({ name: "Premiere night", currentVersion: 3, latestVersion: 3 });
    expect(published.version).toMatchObject({ layout: "", layoutVersion: 0 });

    const back = await client.publish({ key: "premiere", version: 2 });
    expect(back.template?.currentVersion).toBe(2);
    const got = await client.get({ key: "premiere" });
    expect(got.version?.version).toBe(2);
    expect(got.version?.contents.find((c) => c.locale === "en")?.parts.subject).toBe("New: {{film_title}}");
    const v1 = await client.get({ key: "premiere", version: 1 });
    expect(v1.version?.current).toBe(false);
    expect((await failure(client.get({ key: "premiere", version: 9 }))).code).toBe(Code.NotFound);
    expect((await failure(client.publish({ key: "premiere", version: 9 }))).message).toBe('version: template "premiere" has no version 9');

    const page1 = await client.listVersions({ key: "premiere", pageSize: 2 });
    expect(page1.versions.map((x) => [x.version, x.current])).toEqual([[3, false], [2, true]]);
    expect(page1.versions[0].contents).toEqual([]);
    expect(page1.versions[0].locales).toEqual(["en", "ru"]);
    const page2 = await client.listVersions({ key: "premiere", pageSize: 2, pageToken: page1.nextPageToken });
    expect(page2.versions.map((x) => x.version)).toEqual([1]);
    expect(page2.nextPageToken).toBe("");
  });
});

describe("Preview", () => {
  it("renders samples with the layout and reports no problems", async () => {
    const r = await client.preview({ key: "premiere", version: 1 });
    expect(r.problems).toEqual([]);
    expect(r.locale).toBe("en");
    expect(r.parts.subject).toBe("Premiere: Dune");
    expect(r.parts.html).toContain("<p>Hi Anna, Dune is here.</p>");
    expect(r.parts.html).toContain("Unsubscribe</a>"); // marketing: the sample unsubscribe link is shown
    expect(r.data).toMatchObject({ film_title: "Dune", user: { name: "Anna" } });
  });

  it("reports problems in given data instead of failing", async () => {
    const r = await client.preview({ key: "premiere", version: 1, data: { link: "javascript:alert(1)" } });
    expect(r.problems).toEqual(["data.film_title: required variable missing", "data.link: expected an absolute http(s) URL"]);
    expect(r.parts.html).not.toContain("javascript");
  });

  it("uses a real user's data and locale", async () => {
    const r = await client.preview({ key: "welcome", userId: "u-7" });
    expect(r.locale).toBe("ru");
    expect(r.parts.subject).toBe("Добро пожаловать в онлайн-кинотеатр, Anna <admin>!");
    expect(r.parts.html).toContain("Anna &lt;admin&gt;");
    expect(r.parts.html).not.toContain("Отписаться"); // transactional: no unsubscribe link
    const unknown = await client.preview({ key: "welcome", userId: "u-404" });
    expect(unknown.problems).toEqual(['user_id: user "u-404" not found']);
  });

  it("previews an unsaved draft and reports its syntax errors", async () => {
    const r = await client.preview({
      draft: {
        channels: ["email", "websocket"],
        variables: [v("n", VariableType.NUMBER, true, 2)],
        contents: [{ locale: "en", parts: { subject: "{{n}} new", html: "<b>{{n}}</b>", text: "{{n", title: "T", body: "{{n}}!" } }],
      },
    });
    expect(r.problems).toEqual(["draft.contents[0].parts.text: line 1, column 1: Unclosed tag"]);
    expect(r.parts).toMatchObject({ subject: "2 new", html: "<b>2</b>", title: "T", body: "2!" });
  });
});

describe("Diff", () => {
  it("shows unified diff lines per locale and part", async () => {
    const d = await client.diff({ key: "premiere", fromVersion: 1, toVersion: 3 });
    expect(d.fromVersion).toBe(1);
    expect(d.toVersion).toBe(3);
    const subject = d.changes.find((c) => c.locale === "en" && c.part === "subject");
    expect(subject?.lines).toEqual(["@@ -1,1 +1,1 @@", "-Premiere: {{film_title}}", "+Tonight: {{film_title}}"]);
    const settings = d.changes.find((c) => c.part === "settings");
    expect(settings?.lines).toContain("-layout: default v1");
    expect(settings?.lines).toContain("+layout: (none)");
    expect(d.changes.some((c) => c.locale === "ru")).toBe(false);
    const same = await client.diff({ key: "premiere", fromVersion: 2, toVersion: 2 });
    expect(same.changes).toEqual([]);
  });
});

describe("List and Archive", () => {
  it("searches and pages by key, hiding archived templates unless asked", async () => {
    const all: string[] = [];
    let token = "";
    do {
      const page = await client.list({ pageSize: 3, pageToken: token });
      expect(page.templates.length).toBeLessThanOrEqual(3);
      all.push(...page.templates.map((t) => t.key));
      token = page.nextPageToken;
    } while (token);
    expect(all).toEqual(["birthday", "new_films_weekly", "plain", "premiere", "review_liked", "subscription_expiring", "welcome"]);

    const found = await client.list({ query: "weekly" });
    expect(found.templates.map((t) => t.key)).toEqual(["new_films_weekly"]);
    expect(found.templates[0]).toMatchObject({ category: "marketing", currentVersion: 1 });
    // The search also looks at names and descriptions ("Someone liked the user's review of a film.").
    expect((await client.list({ query: "film" })).templates.map((t) => t.key)).toEqual(["new_films_weekly", "review_liked"]);
    expect((await client.list({ query: "100%_" })).templates).toEqual([]);

    const archived = await client.archive({ key: "premiere" });
    expect(archived.template?.archived).toBe(true);
    expect((await client.list({ query: "premiere" })).templates).toEqual([]);
    expect((await client.list({ query: "premiere", includeArchived: true })).templates.map((t) => t.key)).toEqual(["premiere"]);
    expect((await failure(catalog.resolveForSend("premiere"))).code).toBe(Code.FailedPrecondition);
    await client.archive({ key: "premiere", restore: true });
    expect((await catalog.resolveForSend("premiere")).version).toBe(2);
    expect((await failure(client.list({ pageToken: "garbage!" }))).code).toBe(Code.InvalidArgument);
  });
});

describe("layouts", () => {
  const layoutContents = (footer: string): LocaleContent[] => [
    create(LocaleContentSchema, { locale: "en", parts: { html: `<main>{{{content}}}</main><footer>${footer}{{#unsubscribe_url}} <a href="{{unsubscribe_url}}">Unsubscribe</a>{{/unsubscribe_url}}</footer>`, text: `{{{content}}}\n-- ${footer}` } }),
  ];

  it("creates versions per key and templates pin the version they were created with", async () => {
    const l1 = await client.createLayout({ key: "slim", name: "Slim", contents: layoutContents("Address 1") });
    expect(l1.layout).toMatchObject({ key: "slim", version: 1, createdBy: "tester" });
    await client.create({
      key: "slim_note",
      category: "marketing",
      layout: "slim",
      variables: [v("msg", VariableType.STRING, true, "hi")],
      contents: [{ locale: "en", parts: { subject: "{{msg}}", html: "<p>{{msg}}</p>", text: "{{msg}}" } }],
    });
    const l2 = await client.createLayout({ key: "slim", contents: layoutContents("Address 2") });
    expect(l2.layout).toMatchObject({ version: 2, name: "Slim" });

    const pinned = await catalog.resolveForSend("slim_note");
    const r = await catalog.render(pinned.versionId, undefined, "email", { msg: "M", unsubscribe_url: "https://c.example/u/1" });
    expect(r.parts.text).toBe("M\n-- Address 1");
    expect(r.parts.html).toBe('<main><p>M</p></main><footer>Address 1 <a href="https:&#x2F;&#x2F;c.example&#x2F;u&#x2F;1">Unsubscribe</a></footer>');

    const got = await client.getLayout({ key: "slim" });
    expect(got.layout?.version).toBe(2);
    expect((await client.getLayout({ key: "slim", version: 1 })).layout?.contents[0].parts.text).toContain("Address 1");
    const list = await client.listLayouts({});
    expect(list.layouts.map((l) => [l.key, l.version])).toEqual([["default", 1], ["slim", 2]]);
  });

  it("rejects a layout without {{{content}}} or with template variables", async () => {
    const e = await failure(client.createLayout({ key: "broken", contents: [{ locale: "en", parts: { html: "<div>{{film_title}}</div>", text: "{{{content}}}" } }] }));
    expect(e).toEqual({
      code: Code.InvalidArgument,
      message: 'contents[0].parts.html: line 1, column 6: undeclared variable "film_title"; contents[0].parts.html: must contain {{{content}}}',
    });
  });

  it("lists the built-in variables", async () => {
    const r = await client.listBuiltinVariables({});
    const names = r.variables.map((x) => x.name);
    expect(names).toEqual(expect.arrayContaining(["user.name", "user.email", "user.favourite_genres", "unsubscribe_url", "confirm_url", "preferences_url"]));
    expect(r.variables.every((x) => !x.required)).toBe(true);
  });
});
