import { mkdtempSync, mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDb, type Db } from "../../internal/store/db.js";
import { createAdminUserStore, type AdminUserStore } from "../../internal/admin/users.js";
import { ensureFirstAdmin } from "../../internal/admin/bootstrap.js";
import { verifyPassword } from "../../internal/admin/passwords.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "../harness/platform.js";
import { cookieOf, createRpc } from "./rpc.js";

let stack: TestStack;
let node: TestNode;
let db: Db;
let users: AdminUserStore;
let rpc: ReturnType<typeof createRpc>;
const staticDir = mkdtempSync(join(tmpdir(), "admin-dist-"));
const PW = "correct horse battery";

async function signIn(email: string, password = PW) {
  const r = await rpc("notify.v1.AdminService/SignIn", { email, password });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return cookieOf(r.setCookie);
}

beforeAll(async () => {
  mkdirSync(join(staticDir, "assets"));
  writeFileSync(join(staticDir, "index.html"), "<!doctype html><title>panel</title>");
  writeFileSync(join(staticDir, "assets", "app-1.js"), "console.log(1)");
  stack = await startTestStack("adminsvc", { users: 20 });
  node = await stack.startNode("api,relay,planner,worker", { NOTIFY_ADMIN_DIR: staticDir });
  rpc = createRpc(node.httpUrl);
  db = createDb({ url: stack.dbUrl, poolSize: 2 });
  users = createAdminUserStore(db);
  await users.create({ email: "Admin@Example.test", name: "Ada", role: "admin", password: PW });
  await users.create({ email: "manager@example.test", name: "Max", role: "manager", password: PW });
  await users.create({ email: "viewer@example.test", name: "Vera", role: "viewer", password: PW });
});

afterAll(async () => {
  await db?.end();
  await stack?.close();
});

describe("sign-in and sessions", () => {
  it("sets an HttpOnly, SameSite=Strict session cookie and answers GetSession with the role's scopes", async () => {
    const r = await rpc<{ user: { email: string; role: string }; scopes: string[] }>("notify.v1.AdminService/SignIn", {
      email: "admin@example.test",
      password: PW,
    });
    expect(r.status).toBe(200);
    expect(r.body.user.email).toBe("admin@example.test");
    expect(r.body.user.role).toBe("ADMIN_ROLE_ADMIN");
    expect(r.setCookie).toMatch(/^notify_admin=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    const s = await rpc<{ scopes: string[] }>("notify.v1.AdminService/GetSession", {}, { cookie: cookieOf(r.setCookie) });
    expect(s.status).toBe(200);
    expect(s.body.scopes.sort()).toEqual(["admin", "manage", "read", "send"]);
    const token = cookieOf(r.setCookie).split("=")[1];
    const [rows] = (await db.query("SELECT token_hash FROM admin_sessions")) as unknown as [{ token_hash: string }[]];
    expect(rows.some((x) => x.token_hash.includes(token))).toBe(false);
  });

  it("refuses a wrong password and an unknown email alike", async () => {
    const a = await rpc("notify.v1.AdminService/SignIn", { email: "manager@example.test", password: "wrong password" });
    const b = await rpc("notify.v1.AdminService/SignIn", { email: "nobody@example.test", password: "wrong password" });
    expect([a.status, a.body.code, a.body.message]).toEqual([401, "unauthenticated", "wrong email or password"]);
    expect([b.status, b.body.code, b.body.message]).toEqual([401, "unauthenticated", "wrong email or password"]);
    expect(a.setCookie).toBeNull();
  });

  it("locks an email out after 5 failed sign-ins, even for the right password", async () => {
    const email = "locked@example.test";
    await users.create({ email, name: "L", role: "viewer", password: PW });
    for (let i = 0; i < 5; i++) {
      const r = await rpc("notify.v1.AdminService/SignIn", { email, password: `nope-${i}-xxxxx` });
      expect(r.body.code).toBe("unauthenticated");
    }
    const r = await rpc("notify.v1.AdminService/SignIn", { email, password: PW });
    expect(r.status).toBe(429);
    expect(r.body.code).toBe("resource_exhausted");
    expect(r.body.message).toMatch(/try again in 1[45] min/);
    // Other people are not affected.
    await signIn("viewer@example.test");
    // Once the failures leave the 15-minute window, the right password works again.
    await db.query("UPDATE admin_sign_in_attempts SET at = DATE_SUB(at, INTERVAL 16 MINUTE) WHERE email = ?", [email]);
    await signIn(email);
  });

  it("needs the Connect protocol header with a session cookie (no cross-site form can send it)", async () => {
    const cookie = await signIn("admin@example.test");
    const r = await rpc("notify.v1.TemplateService/List", {}, { cookie, protocolHeader: false });
    expect(r.status).toBe(403);
    expect(r.body.message).toContain("Connect-Protocol-Version");
    const s = await rpc("notify.v1.AdminService/SignIn", { email: "admin@example.test", password: PW }, { protocolHeader: false });
    expect(s.status).toBe(403);
    expect(s.setCookie).toBeNull();
  });

  it("signs out: the cookie is cleared and the session no longer works", async () => {
    const cookie = await signIn("manager@example.test");
    const out = await rpc("notify.v1.AdminService/SignOut", {}, { cookie });
    expect(out.status).toBe(200);
    expect(out.setCookie).toMatch(/^notify_admin=; Path=\/; Max-Age=0;/);
    const r = await rpc("notify.v1.TemplateService/List", {}, { cookie });
    expect([r.status, r.body.code]).toEqual([401, "unauthenticated"]);
    const none = await rpc("notify.v1.TemplateService/List", {});
    expect([none.status, none.body.code]).toEqual([401, "unauthenticated"]);
  });
});

describe("roles are enforced by the server on every service", () => {
  const draft = (key: string) => ({
    key,
    name: key,
    category: "transactional",
    variables: [{ name: "film", type: "VARIABLE_TYPE_STRING", required: true, sample: "Dune" }],
    contents: [{ locale: "en", parts: { subject: "Hi {{film}}", html: "<p>{{film}}</p>", text: "{{film}}" } }],
  });

  it("a viewer reads but cannot write templates, send, or manage keys and users", async () => {
    const cookie = await signIn("viewer@example.test");
    expect((await rpc("notify.v1.TemplateService/List", {}, { cookie })).status).toBe(200);
    expect((await rpc("notify.v1.AdminService/GetDashboard", {}, { cookie })).status).toBe(200);
    for (const [method, body] of [
      ["notify.v1.TemplateService/Create", draft("viewer_tpl")],
      ["notify.v1.TemplateService/Publish", { key: "plain", version: 1 }],
      ["notify.v1.NotificationService/Send", { idempotencyKey: "v1", template: "plain", recipients: [{ email: "a@b.test" }] }],
      ["notify.v1.AdminService/ListApiKeys", {}],
      ["notify.v1.AdminService/CreateAdminUser", { email: "x@y.test", role: "ADMIN_ROLE_ADMIN", password: PW }],
    ] as const) {
      const r = await rpc(method, body, { cookie });
      expect([method, r.status, r.body.code]).toEqual([method, 403, "permission_denied"]);
    }
  });

  it("a manager writes templates (recorded as the author) but cannot manage keys or users", async () => {
    const cookie = await signIn("manager@example.test");
    const r = await rpc<{ version: { createdBy: string } }>("notify.v1.TemplateService/Create", draft("mgr_tpl"), { cookie });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.version.createdBy).toBe("manager@example.test");
    expect((await rpc("notify.v1.AdminService/CreateApiKey", { name: "k", scopes: ["read"] }, { cookie })).status).toBe(403);
    expect((await rpc("notify.v1.AdminService/ListAdminUsers", {}, { cookie })).status).toBe(403);
  });

  it("an admin creates API keys that work as bearer tokens, and revokes them", async () => {
    const cookie = await signIn("admin@example.test");
    const r = await rpc<{ key: string; apiKey: { scopes: string[] } }>("notify.v1.AdminService/CreateApiKey", { name: "ugc", scopes: ["read"] }, { cookie });
    expect(r.status).toBe(200);
    expect(r.body.apiKey.scopes).toEqual(["read"]);
    expect((await rpc("notify.v1.TemplateService/List", {}, { bearer: r.body.key })).status).toBe(200);
    expect((await rpc("notify.v1.TemplateService/Create", draft("key_tpl"), { bearer: r.body.key })).status).toBe(403);
    const list = await rpc<{ keys: { name: string }[] }>("notify.v1.AdminService/ListApiKeys", {}, { cookie });
    expect(list.body.keys.map((k) => k.name)).toContain("ugc");
    const dup = await rpc("notify.v1.AdminService/CreateApiKey", { name: "ugc", scopes: ["read"] }, { cookie });
    expect(dup.body.code).toBe("already_exists");
    expect((await rpc<{ revoked: boolean }>("notify.v1.AdminService/RevokeApiKey", { name: "ugc" }, { cookie })).body.revoked).toBe(true);
  });

  it("an admin changes a role, which ends that person's sessions; the last admin stays an admin", async () => {
    const admin = await signIn("admin@example.test");
    const person = await users.create({ email: "temp@example.test", name: "T", role: "manager", password: PW });
    const theirs = await signIn("temp@example.test");
    const r = await rpc<{ user: { role: string } }>("notify.v1.AdminService/UpdateAdminUser", { id: person.id, role: "ADMIN_ROLE_VIEWER" }, { cookie: admin });
    expect(r.body.user.role).toBe("ADMIN_ROLE_VIEWER");
    expect((await rpc("notify.v1.AdminService/GetSession", {}, { cookie: theirs })).status).toBe(401);
    const me = (await users.byEmail("admin@example.test"))!;
    const demote = await rpc("notify.v1.AdminService/UpdateAdminUser", { id: me.id, role: "ADMIN_ROLE_VIEWER" }, { cookie: admin });
    expect(demote.body.code).toBe("failed_precondition");
    const created = await rpc<{ user: { id: string } }>(
      "notify.v1.AdminService/CreateAdminUser",
      { email: "New@Example.test", name: "N", role: "ADMIN_ROLE_MANAGER", password: "short" },
      { cookie: admin },
    );
    expect(created.body.code).toBe("invalid_argument");
  });

  it("changes one's own password: other sessions end, this one stays", async () => {
    const email = "pw@example.test";
    await users.create({ email, name: "P", role: "viewer", password: PW });
    const a = await signIn(email);
    const b = await signIn(email);
    const r = await rpc("notify.v1.AdminService/ChangePassword", { currentPassword: PW, newPassword: "a brand new secret" }, { cookie: a });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect((await rpc("notify.v1.AdminService/GetSession", {}, { cookie: a })).status).toBe(200);
    expect((await rpc("notify.v1.AdminService/GetSession", {}, { cookie: b })).status).toBe(401);
    expect(await verifyPassword("a brand new secret", (await users.byEmail(email))!.passwordHash)).toBe(true);
  });
});

describe("dashboard, search and the static panel", () => {
  it("counts sent deliveries per hour, shows queue depths, and finds the mail by address and id", async () => {
    const send = await rpc<{ notificationId: string }>(
      "notify.v1.NotificationService/Send",
      { idempotencyKey: "dash-1", template: "plain", recipients: [{ email: "Dash@Example.test" }], data: { subject: "s", body: "b" } },
      { bearer: stack.apiKey },
    );
    expect(send.status).toBe(200);
    await stack.sink.waitForMessages(1, 15_000);
    const cookie = await signIn("viewer@example.test");
    const dash = await eventually(async () => {
      const r = await rpc<{ hours: { sent: string }[]; totals: Record<string, string>; queues: { consumer: string; exists: boolean }[] }>(
        "notify.v1.AdminService/GetDashboard",
        { hours: 24 },
        { cookie },
      );
      return Number(r.body.totals.sent ?? 0) >= 1 ? r.body : undefined;
    });
    expect(dash.hours).toHaveLength(24);
    // The newest hour, or the one before when the clock passed the hour since the mail went out.
    expect(Number(dash.hours[22].sent ?? 0) + Number(dash.hours[23].sent ?? 0)).toBeGreaterThanOrEqual(1);
    expect(dash.queues.find((q) => q.consumer === "deliver-email")?.exists).toBe(true);
    const byEmail = await rpc<{ matchedAs: string; deliveries: { notificationId: string; status: string }[] }>(
      "notify.v1.AdminService/SearchDeliveries",
      { query: "dash@example.test" },
      { cookie },
    );
    expect(byEmail.body.matchedAs).toBe("email");
    expect(byEmail.body.deliveries.map((d) => d.notificationId)).toEqual([send.body.notificationId]);
    const byId = await rpc<{ matchedAs: string; deliveries: unknown[] }>("notify.v1.AdminService/SearchDeliveries", { query: send.body.notificationId }, { cookie });
    expect(byId.body.matchedAs).toBe("notification_id");
    expect(byId.body.deliveries).toHaveLength(1);
    const byUser = await rpc<{ matchedAs: string }>("notify.v1.AdminService/SearchDeliveries", { query: "u1" }, { cookie });
    expect(byUser.body.matchedAs).toBe("user_id");
  });

  it("serves the panel with a strict CSP, falls back to index.html for app routes, and never leaves its folder", async () => {
    const index = await fetch(`${node.httpUrl}/admin/templates/welcome`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain("<title>panel</title>");
    expect(index.headers.get("content-security-policy")).toContain("script-src 'self'");
    expect(index.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
    expect(index.headers.get("cache-control")).toBe("no-cache");
    const asset = await fetch(`${node.httpUrl}/admin/assets/app-1.js`);
    expect(asset.headers.get("content-type")).toContain("text/javascript");
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect((await fetch(`${node.httpUrl}/admin/assets/missing.js`)).status).toBe(404);
    const escape = await fetch(`${node.httpUrl}/admin/..%2f..%2fpackage.json`);
    expect(await escape.text()).not.toContain("cinema-notify");
    const redirect = await fetch(`${node.httpUrl}/admin`, { redirect: "manual" });
    expect([redirect.status, redirect.headers.get("location")]).toEqual([301, "/admin/"]);
  });

  it("creates the first admin once: a generated password without configuration, the configured one with it", async () => {
    const fresh = createAdminUserStore(db);
    await db.query("DELETE FROM admin_users");
    const first = await ensureFirstAdmin(fresh, {});
    expect(first?.email).toBe("admin@localhost");
    expect(first?.generatedPassword).toMatch(/^[A-Za-z0-9]{20}$/);
    expect(await verifyPassword(first!.generatedPassword!, (await fresh.byEmail("admin@localhost"))!.passwordHash)).toBe(true);
    expect(await ensureFirstAdmin(fresh, {})).toBeUndefined();
    const configured = await ensureFirstAdmin(fresh, { email: "boss@example.test", password: "configured secret" });
    expect(configured).toEqual({ email: "boss@example.test", generatedPassword: undefined });
    expect(await ensureFirstAdmin(fresh, { email: "boss@example.test", password: "another secret!" })).toBeUndefined();
    expect((await fresh.byEmail("boss@example.test"))?.role).toBe("admin");
  });
});
