import { Socket, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SMTPServer } from "smtp-server";
import { createSmtpPool } from "./smtp-pool.js";

// A real SMTP peer that keeps each message as received.
const received: string[] = [];
let server: SMTPServer;
let url: string;

beforeAll(async () => {
  server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _session, done) {
      const parts: Buffer[] = [];
      stream.on("data", (b: Buffer) => parts.push(b));
      stream.on("end", () => {
        received.push(Buffer.concat(parts).toString("utf8"));
        done();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `smtp://127.0.0.1:${((server as unknown as { server: import("node:net").Server }).server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

/**
 * What each write of a socket hands to the system, as the stream implementation sees it: a
 * single buffer (`_write`) or the batch queued while corked (`_writev`). The pass-through spy only
 * records; the bytes still leave as usual.
 */
function recordWrites() {
  const writes: string[] = [];
  const proto = Socket.prototype as unknown as Record<"_write" | "_writev", (...a: unknown[]) => unknown>;
  const { _write, _writev } = proto;
  proto._write = function (this: Socket, chunk: unknown, ...rest: unknown[]) {
    writes.push(String(chunk));
    return _write.call(this, chunk, ...rest);
  };
  proto._writev = function (this: Socket, chunks: unknown, ...rest: unknown[]) {
    writes.push((chunks as { chunk: unknown }[]).map((c) => String(c.chunk)).join(""));
    return _writev.call(this, chunks, ...rest);
  };
  return {
    writes,
    restore() {
      proto._write = _write;
      proto._writev = _writev;
    },
  };
}

describe("SMTP pool", () => {
  it("sends a message's text and its terminator in one write, dots escaped, on a reused connection too", async () => {
    const pool = createSmtpPool({ url, size: 1, name: "cinema.example" });
    const spy = recordWrites();
    try {
      const body = (i: number) => `Subject: m${i}\r\n\r\n.starts with a dot\r\nline ${i}\r\n` + "x".repeat(2000) + "\r\n";
      for (let i = 0; i < 3; i++) {
        spy.writes.length = 0;
        await pool.send({ from: "a@cinema.example", to: [`r${i}@example.test`] }, body(i));
        const withText = spy.writes.filter((w) => w.includes(`line ${i}`));
        expect(withText).toHaveLength(1);
        expect(withText[0]).toContain("\r\n..starts with a dot\r\n");
        expect(withText[0].endsWith(`line ${i}\r\n${"x".repeat(2000)}\r\n.\r\n`)).toBe(true);
      }
      expect(received).toEqual([0, 1, 2].map(body));
    } finally {
      spy.restore();
      pool.close();
    }
  });

  it("sends a message larger than the socket's buffer whole (the cork never holds back what the socket waits to drain)", async () => {
    const pool = createSmtpPool({ url, size: 1, name: "cinema.example" });
    try {
      const big = `Subject: big\r\n\r\n${Array.from({ length: 6000 }, (_, i) => `.line ${i} ${"y".repeat(60)}`).join("\r\n")}\r\n`;
      expect(big.length).toBeGreaterThan(300_000);
      received.length = 0;
      await pool.send({ from: "a@cinema.example", to: ["big@example.test"] }, big);
      await pool.send({ from: "a@cinema.example", to: ["after@example.test"] }, "Subject: after\r\n\r\nsmall\r\n");
      expect(received).toEqual([big, "Subject: after\r\n\r\nsmall\r\n"]);
    } finally {
      pool.close();
    }
  });
});
