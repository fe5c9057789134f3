import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../log/logger.js";
import { startSmtpSink, type SmtpSink } from "../../test/harness/smtp-sink.js";
import { DeliveryError, type OutgoingMessage } from "./channel.js";
import { createEmailChannel } from "./email.js";

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(async () => {
  await sink?.close();
});

const message = (i: number): OutgoingMessage => ({
  deliveryId: `d${i}`,
  notificationId: `n${i}`,
  category: "transactional",
  recipient: { address: `r${i}@example.test` },
  parts: { subject: `s${i}`, text: "t", html: "<p>t</p>" },
  headers: {},
  automatic: false,
  log: createLogger({ level: "silent" }),
  sentDetail: "attempt 1",
});

describe("email channel", () => {
  it("sends waiting for a connection when the breaker opens give up unattempted instead of reaching the relay", async () => {
    // One connection, and a relay that takes 300 ms per message: the other sends queue in the pool.
    sink.setMode({ kind: "slow", delayMs: 300, at: "data" });
    const email = createEmailChannel(
      {
        urls: [sink.url],
        pool: 1,
        rate: 1000,
        from: "Cinema <no-reply@cinema.example>",
        domain: "cinema.example",
        breaker: { threshold: 1, windowMs: 10_000, probeMs: 60_000 },
      },
      { log: createLogger({ level: "silent" }) },
    );
    try {
      const sends = Array.from({ length: 10 }, (_, i) => email.send(message(i)).then(() => "sent", (e: unknown) => e));
      for (let i = 0; i < 100 && sink.stats().transactions === 0; i++) await new Promise((r) => setTimeout(r, 20));
      // The relay is judged down while the first message is on the wire.
      email.breakers[0].failure(new Error("relay down"));
      expect(email.breakers[0].available).toBe(false);
      const out = await Promise.all(sends);
      // The pacer hands out its first tokens in no particular order: whichever send got the connection went out.
      expect(out.filter((r) => r === "sent")).toHaveLength(1);
      const refused = out.filter((r) => r !== "sent");
      expect(refused).toHaveLength(9);
      for (const r of refused) {
        expect(r).toBeInstanceOf(DeliveryError);
        expect(r).toMatchObject({ transient: true, reason: "circuit_open", uncertain: false });
      }
      // Only the message already under way reached the relay.
      expect(sink.stats().transactions).toBe(1);
    } finally {
      sink.setMode({ kind: "ok" });
      await email.close();
    }
  });
});
