import { describe, expect, it } from "vitest";
import { checkRedirect, hostAllowed, parseAllowlist } from "./redirect.js";

const allow = ["cinema.example", "*.cinema.example"];

describe("checkRedirect", () => {
  const refused: [string, string][] = [
    ["//evil.example", "absolute"],
    ["https://evil.example", "not in redirect_allowlist"],
    ["/\\evil.example", "backslashes"],
    ["javascript:alert(1)", "absolute"],
    ["https://cinema.example@evil.example", "user information"],
    ["https://cinema.example:443@evil.example/", "user information"],
    ["https:cinema.example", "absolute"],
    ["https://cinema.example.evil.example/", "not in redirect_allowlist"],
    ["https://evilcinema.example/", "not in redirect_allowlist"],
    [" https://cinema.example/", "whitespace"],
    ["https://cinema.example/\r\nSet-Cookie: x=1", "whitespace"],
    ["data:text/html,hi", "absolute"],
    ["", "absolute"],
  ];
  for (const [url, why] of refused) {
    it(`refuses ${JSON.stringify(url)}`, () => {
      const r = checkRedirect(url, allow);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toContain(why);
    });
  }

  it("takes allow-listed hosts and subdomains, normalised", () => {
    expect(checkRedirect("HTTPS://Cinema.Example/welcome?x=1", allow)).toEqual({ ok: true, url: "https://cinema.example/welcome?x=1" });
    expect(checkRedirect("https://www.cinema.example/", allow)).toEqual({ ok: true, url: "https://www.cinema.example/" });
    expect(checkRedirect("https://cinema.example/@evil", allow).ok).toBe(true);
  });

  it("refuses non-strings and over-long URLs", () => {
    expect(checkRedirect(42, allow).ok).toBe(false);
    expect(checkRedirect(`https://cinema.example/${"a".repeat(2100)}`, allow).ok).toBe(false);
  });
});

describe("allow-list", () => {
  it("normalises host names and refuses anything else", () => {
    expect(parseAllowlist([" Cinema.Example ", "*.cdn.example"])).toEqual(["cinema.example", "*.cdn.example"]);
    expect(() => parseAllowlist("cinema.example")).toThrow("list");
    expect(() => parseAllowlist(["https://cinema.example"])).toThrow("[0]");
    expect(() => parseAllowlist(["cinema.example/path"])).toThrow("[0]");
    expect(() => parseAllowlist([""])).toThrow("[0]");
  });

  it("matches wildcards on subdomains only", () => {
    expect(hostAllowed("a.b.cdn.example", ["*.cdn.example"])).toBe(true);
    expect(hostAllowed("cdn.example", ["*.cdn.example"])).toBe(false);
    expect(hostAllowed("xcdn.example", ["*.cdn.example"])).toBe(false);
  });
});
