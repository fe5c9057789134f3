import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, lazyChild } from "./logger.js";

describe("lazyChild", () => {
  it("makes the child on the first use only, and it logs with the bindings and the redaction of a child", () => {
    let out = "";
    const dest = new PassThrough();
    dest.on("data", (b: Buffer) => (out += b.toString()));
    const log = createLogger({ level: "info", destination: dest });
    let made = 0;
    const child = log.child.bind(log);
    log.child = ((...a: Parameters<typeof log.child>) => (made++, child(...a))) as typeof log.child;

    const quiet = lazyChild(log, { deliveryId: "d1" });
    expect(made).toBe(0);
    const used = lazyChild(log, { deliveryId: "d2", attempt: 3 });
    expect(used.isLevelEnabled("debug")).toBe(false);
    used.debug("not written");
    used.info({ body: "secret text" }, "sent");
    used.warn("again");
    expect(made).toBe(1);
    void quiet;
    const debugOnly = lazyChild(log, { deliveryId: "d3" });
    debugOnly.debug("not written either");
    debugOnly.trace("nor this");
    expect(made).toBe(1);
    // Only the level methods are short-cut: anything else reaches the child (made for it).
    expect(typeof debugOnly.bindings).toBe("function");
    expect(debugOnly.bindings()).toMatchObject({ deliveryId: "d3" });
    // A name every object inherits is no level either.
    expect(lazyChild(log, { deliveryId: "d4" }).hasOwnProperty("nothing")).toBe(false);

    const lines = out.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ deliveryId: "d2", attempt: 3, msg: "sent", body: "[redacted]", level: 30 });
    expect(lines[1]).toMatchObject({ deliveryId: "d2", msg: "again", level: 40 });
  });
});
