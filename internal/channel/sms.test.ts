import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../log/logger.js";
import { DeliveryError, type Channel, type OutgoingMessage } from "./channel.js";
import { smsChannelFromSettings } from "./sms.js";

let status = 200;
let hits = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on("end", () => {
    hits++;
    res.writeHead(status).end(status === 200 ? "accepted" : "down");
  });
});
let url: string;
const log = createLogger({ level: "silent", name: "sms-test" });

const msg = (phone: string): OutgoingMessage =>
  ({
    deliveryId: "0190d3c4-0000-7000-8000-000000000001",
    notificationId: "0190d3c4-0000-7000-8000-000000000002",
    category: "transactional",
    recipient: { userId: "u1", user: { phone } },
    parts: { sms: "hello" },
    headers: {},
    automatic: true,
    log: createLogger({ level: "silent" }),
  }) as unknown as OutgoingMessage;

async function failure(ch: Channel, m: OutgoingMessage): Promise<DeliveryError> {
  const err = await ch.send(m).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DeliveryError);
  return err as DeliveryError;
}

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/send`;
});
afterAll(() => new Promise((r) => server.close(r)));

describe("sms channel", () => {
  it("is off without a URL", () => {
    expect(smsChannelFromSettings({}, { log })).toBeUndefined();
  });

  it("refuses a user without an E.164 phone, permanently, without calling the gateway", async () => {
    const ch = smsChannelFromSettings({ url }, { log })!;
    hits = 0;
    const e = await failure(ch, msg("8 (900) 123"));
    expect(e.transient).toBe(false);
    expect(e.reason).toBe("no_address");
    expect(hits).toBe(0);
    expect(ch.address({ userId: "u1" })).toBeUndefined();
    await ch.close();
  });

  it("opens its breaker after repeated 5xx, fails fast while open, and closes after a good trial", async () => {
    const ch = smsChannelFromSettings({ url, breaker_threshold: "3", breaker_cooldown: "300ms" }, { log })!;
    status = 503;
    hits = 0;
    for (let i = 0; i < 3; i++) expect((await failure(ch, msg("+79001234567"))).reason).toBe("sms_gateway_error");
    expect(ch.status?.()).toEqual({ sms: "open" });
    const fast = await failure(ch, msg("+79001234567"));
    expect(fast).toMatchObject({ transient: true, reason: "sms_circuit_open" });
    expect(hits).toBe(3);

    await new Promise((r) => setTimeout(r, 350));
    expect(ch.status?.()).toEqual({ sms: "half-open" });
    status = 200;
    expect(await ch.send(msg("+79001234567"))).toEqual({ messageId: "sms:0190d3c4-0000-7000-8000-000000000001" });
    expect(ch.status?.()).toEqual({ sms: "closed" });
    await ch.close();
  });

  it("does not count throttling (429) as the gateway being down", async () => {
    const ch = smsChannelFromSettings({ url, breaker_threshold: "2" }, { log })!;
    status = 429;
    for (let i = 0; i < 4; i++) expect((await failure(ch, msg("+79001234567"))).reason).toBe("sms_throttled");
    expect(ch.status?.()).toEqual({ sms: "closed" });
    await ch.close();
  });
});
