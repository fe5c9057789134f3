import { describe, expect, it } from "vitest";
import { sentByScript } from "./authenticator.js";
import { clearedCookie, readCookie, sessionCookie } from "./cookie.js";
import { checkPasswordRules, DUMMY_HASH, generatePassword, hashPassword, verifyPassword } from "./passwords.js";
import { ROLE_SCOPES, roleFromPb, roleToPb } from "./roles.js";

describe("passwords", () => {
  it("hashes with scrypt and a fresh salt, and verifies only the right password", async () => {
    const a = await hashPassword("correct horse battery");
    const b = await hashPassword("correct horse battery");
    expect(a).toMatch(/^scrypt\$15\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword("correct horse battery", a)).toBe(true);
    expect(await verifyPassword("correct horse batterY", a)).toBe(false);
    expect(await verifyPassword("anything", DUMMY_HASH)).toBe(false);
  });

  it("refuses malformed or absurdly expensive stored hashes instead of computing them", async () => {
    expect(await verifyPassword("x", "plain-text")).toBe(false);
    expect(await verifyPassword("x", "scrypt$30$8$1$c2FsdA==$aGFzaA==")).toBe(false);
    expect(await verifyPassword("x", "bcrypt$10$8$1$c2FsdA==$aGFzaA==")).toBe(false);
  });

  it("generates readable 20-character passwords and checks length rules", () => {
    const p = generatePassword();
    expect(p).toMatch(/^[a-km-zA-HJ-NP-Z2-9]{20}$/);
    expect(generatePassword()).not.toBe(p);
    expect(checkPasswordRules("short")).toContain("at least 10");
    expect(checkPasswordRules("x".repeat(201))).toContain("at most 200");
    expect(checkPasswordRules("long enough")).toBeUndefined();
  });
});

describe("session cookie", () => {
  it("is HttpOnly and SameSite=Strict, Secure only over https, and cleared with Max-Age=0", () => {
    expect(sessionCookie("tok", { secure: false, maxAgeS: 60.7 })).toBe("notify_admin=tok; Path=/; Max-Age=60; HttpOnly; SameSite=Strict");
    expect(sessionCookie("tok", { secure: true, maxAgeS: 60 })).toMatch(/; Secure$/);
    expect(clearedCookie(false)).toBe("notify_admin=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
  });

  it("is found among other cookies, and not by a name that only ends like it", () => {
    expect(readCookie("a=1; notify_admin=xyz; b=2", "notify_admin")).toBe("xyz");
    expect(readCookie("other_notify_admin=evil", "notify_admin")).toBeUndefined();
    expect(readCookie(null, "notify_admin")).toBeUndefined();
  });

  it("is accepted only with a header that cross-site forms cannot send", () => {
    expect(sentByScript(new Headers({ "connect-protocol-version": "1" }))).toBe(true);
    expect(sentByScript(new Headers({ "content-type": "application/grpc-web+proto" }))).toBe(true);
    expect(sentByScript(new Headers({ "content-type": "application/connect+json" }))).toBe(true);
    for (const ct of ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json"]) {
      expect(sentByScript(new Headers({ "content-type": ct }))).toBe(false);
    }
  });
});

describe("roles", () => {
  it("grow from viewer to manager to admin and round-trip through the proto enum", () => {
    expect(ROLE_SCOPES.viewer).toEqual(["read"]);
    expect(ROLE_SCOPES.manager).not.toContain("admin");
    expect(ROLE_SCOPES.manager).toContain("manage");
    expect(ROLE_SCOPES.admin).toEqual(expect.arrayContaining(["read", "send", "manage", "admin"]));
    for (const r of ["viewer", "manager", "admin"] as const) expect(roleFromPb(roleToPb(r))).toBe(r);
    expect(roleFromPb(0)).toBeUndefined();
  });
});
