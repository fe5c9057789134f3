import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "./config.js";

const pem = generateKeyPairSync("rsa", { modulusLength: 1024, privateKeyEncoding: { type: "pkcs8", format: "pem" }, publicKeyEncoding: { type: "spki", format: "pem" } }).privateKey;

describe("DKIM settings", () => {
  it("are off when nothing is set", () => {
    expect(loadConfig({}).dkim).toBeUndefined();
  });

  it("take an inline key (with literal \\n) or a key file, and sign the unsubscribe headers", () => {
    const inline = loadConfig({ NOTIFY_DKIM_DOMAIN: "cinema.example", NOTIFY_DKIM_SELECTOR: "s1", NOTIFY_DKIM_PRIVATE_KEY: pem.replace(/\n/g, "\\n") });
    expect(inline.dkim).toMatchObject({ domainName: "cinema.example", keySelector: "s1", privateKey: pem });
    expect(inline.dkim!.headerFieldNames.split(":")).toEqual(expect.arrayContaining(["From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post"]));
    const file = join(mkdtempSync(join(tmpdir(), "dkim-")), "key.pem");
    writeFileSync(file, pem);
    expect(loadConfig({ NOTIFY_DKIM_DOMAIN: "cinema.example", NOTIFY_DKIM_SELECTOR: "s1", NOTIFY_DKIM_KEY_FILE: file }).dkim?.privateKey).toBe(pem);
  });

  it("refuse half a configuration, a missing file and a key that is not one, naming the variable", () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
        return [];
      } catch (err) {
        expect(err).toBeInstanceOf(ConfigError);
        return (err as ConfigError).problems;
      }
    };
    expect(problems({ NOTIFY_DKIM_DOMAIN: "cinema.example" }).join("\n")).toMatch(/NOTIFY_DKIM_SELECTOR: required[\s\S]*NOTIFY_DKIM_PRIVATE_KEY: required/);
    expect(problems({ NOTIFY_DKIM_DOMAIN: "d.example", NOTIFY_DKIM_SELECTOR: "s", NOTIFY_DKIM_KEY_FILE: "/nonexistent/key.pem" })[0]).toMatch(/^NOTIFY_DKIM_KEY_FILE: cannot read .*ENOENT/);
    expect(problems({ NOTIFY_DKIM_DOMAIN: "d.example", NOTIFY_DKIM_SELECTOR: "s", NOTIFY_DKIM_PRIVATE_KEY: "not a key" })).toEqual(["NOTIFY_DKIM_PRIVATE_KEY: not a PEM private key"]);
  });
});
