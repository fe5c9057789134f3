import nodemailer from "nodemailer";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startSmtpSink, type SmtpSink } from "./smtp-sink.js";

let sink: SmtpSink;
beforeAll(async () => {
  sink = await startSmtpSink();
});
afterAll(() => sink.close());
beforeEach(() => {
  sink.setMode({ kind: "ok" });
  sink.clearRejections();
  sink.reset();
});

function send(to: string, messageId?: string, subject = "Hello") {
  // A new transport per mail: a failed session must not poison the next test's connection.
  const t = nodemailer.createTransport({ host: sink.host, port: sink.port, secure: false, connectionTimeout: 5000 });
  return t
    .sendMail({
      from: "Cinema <no-reply@cinema.example>",
      to,
      subject,
      text: "plain body",
      html: "<p>html body</p>",
      messageId,
      headers: { "List-Unsubscribe": "<http://127.0.0.1/u/abc>" },
    })
    .finally(() => t.close());
}

async function responseCodeOf(p: Promise<unknown>): Promise<number | string | undefined> {
  try {
    await p;
    return "sent";
  } catch (err) {
    return (err as { responseCode?: number; code?: string }).responseCode ?? (err as { code?: string }).code;
  }
}

describe("smtp sink", () => {
  it("records an accepted message with its parts and headers", async () => {
    const info = await send("you@example.test", "<m1@cinema.example>");
    expect(info.accepted).toEqual(["you@example.test"]);
    const [m] = sink.messages();
    expect(m.messageId).toBe("<m1@cinema.example>");
    expect(m.to).toEqual(["you@example.test"]);
    expect(m.envelopeTo).toEqual(["you@example.test"]);
    expect(m.envelopeFrom).toBe("no-reply@cinema.example");
    expect(m.subject).toBe("Hello");
    expect(m.text.trim()).toBe("plain body");
    expect(m.html).toContain("<p>html body</p>");
    expect(m.headers["list-unsubscribe"]).toBe("<http://127.0.0.1/u/abc>");
    expect(m.raw).toContain("Subject: Hello");
    expect(sink.uniqueMessageIds()).toEqual(["<m1@cinema.example>"]);
    expect(sink.duplicates()).toEqual([]);
  });

  it("tempfail 421 at MAIL FROM gives the client responseCode 421 and records nothing", async () => {
    sink.setMode({ kind: "tempfail", code: 421 });
    expect(await responseCodeOf(send("you@example.test"))).toBe(421);
    expect(sink.messages()).toHaveLength(0);
  });

  it("tempfail with times heals itself after that many faults", async () => {
    sink.setMode({ kind: "tempfail", code: 451, at: "rcpt", times: 1 });
    expect(await responseCodeOf(send("you@example.test"))).toBe(451);
    expect(await responseCodeOf(send("you@example.test"))).toBe("sent");
    expect(sink.mode()).toEqual({ kind: "ok" });
    expect(sink.stats().faults).toBe(1);
  });

  it("tempfail 451 at DATA fails after the body was sent", async () => {
    sink.setMode({ kind: "tempfail", code: 451, at: "data" });
    expect(await responseCodeOf(send("you@example.test"))).toBe(451);
    expect(sink.messages()).toHaveLength(0);
  });

  it("permfail 550 only for the listed recipients", async () => {
    sink.setMode({ kind: "permfail", recipients: [/^bad@/] });
    expect(await responseCodeOf(send("bad@example.test"))).toBe(550);
    expect(await responseCodeOf(send("good@example.test"))).toBe("sent");
    expect(sink.messages().map((m) => m.to[0])).toEqual(["good@example.test"]);
  });

  it("rejectRecipients rejects matching addresses with the given code whatever the mode", async () => {
    sink.rejectRecipients("blocked@example.test", 553);
    expect(await responseCodeOf(send("blocked@example.test"))).toBe(553);
    expect(await responseCodeOf(send("other@example.test"))).toBe("sent");
  });

  it("drop closes the connection without a reply", async () => {
    sink.setMode({ kind: "drop" });
    const r = await responseCodeOf(send("you@example.test"));
    expect(typeof r).toBe("string");
    expect(r).not.toBe("sent");
    expect(sink.messages()).toHaveLength(0);
  });

  it("drop after-data keeps the mail the client thinks failed; a resend shows up as a duplicate", async () => {
    sink.setMode({ kind: "drop", at: "after-data", times: 1 });
    expect(await responseCodeOf(send("you@example.test", "<dup@cinema.example>"))).not.toBe("sent");
    expect(await responseCodeOf(send("you@example.test", "<dup@cinema.example>"))).toBe("sent");
    expect(sink.countFor("<dup@cinema.example>")).toBe(2);
    expect(sink.duplicates()).toEqual([{ messageId: "<dup@cinema.example>", count: 2 }]);
  });

  it("slow delays the answer", async () => {
    sink.setMode({ kind: "slow", delayMs: 400 });
    const started = Date.now();
    await send("you@example.test");
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);
    expect(await sink.waitForMessages(1, 1000)).toHaveLength(1);
  });

  it("waitForMessages times out with the count it saw", async () => {
    await expect(sink.waitForMessages(1, 200)).rejects.toThrow(/0\/1/);
  });
});
