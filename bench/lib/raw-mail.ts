import { simpleParser } from "mailparser";
import nodemailer from "nodemailer";
import { callers } from "./load.js";
import { startCountingSink } from "./sink.js";

/** What a raw baseline sends to recipient i. */
export type RawMail = (i: number) => { subject: string; text: string; html: string; headers?: Record<string, string> };

// Headers nodemailer writes itself from sendMail's fields; the others are passed through as they came.
const OWN_HEADERS = new Set(["from", "to", "subject", "message-id", "date", "mime-version", "content-type", "content-transfer-encoding"]);

/**
 * The platform's own messages, read back from a sink that kept them (subject, both bodies and the
 * extra headers, List-Unsubscribe...): recipient i gets the i-th, round robin. A baseline that sends
 * them delivers what the platform delivers (the template in its layout), not a shorter message.
 */
export async function platformMail(sources: Buffer[]): Promise<RawMail> {
  if (sources.length === 0) throw new Error("the sink kept no message to send in the baseline");
  const mails = await Promise.all(
    sources.map(async (src) => {
      const m = await simpleParser(src);
      const headers = Object.fromEntries(
        m.headerLines
          .filter((h) => !OWN_HEADERS.has(h.key))
          .map((h) => [h.line.slice(0, h.line.indexOf(":")), h.line.slice(h.line.indexOf(":") + 1).replace(/\r?\n[ \t]+/g, " ").trim()]),
      );
      return { subject: m.subject ?? "", text: m.text ?? "", html: typeof m.html === "string" ? m.html : "", headers };
    }),
  );
  return (i) => mails[i % mails.length];
}

/**
 * The raw baseline: one process, nodemailer's pool (4 connections) sending `n` mails from `concurrency`
 * callers to a sink of its own, timed after `warm` mails (JIT, pool connections), so it compares
 * steady states with the platform's. CPU and bytes per message are the process's and the sink's.
 */
export async function nodemailerBaseline(o: { content: RawMail; n: number; warm: number; concurrency: number; tag: string }) {
  const sink = await startCountingSink();
  const t = nodemailer.createTransport({ host: "127.0.0.1", port: sink.port, pool: true, maxConnections: 4, maxMessages: 1e9, secure: false, ignoreTLS: true });
  const mail = (i: number) =>
    t.sendMail({
      from: "Cinema <no-reply@cinema.example>",
      to: `${o.tag}${i}@example.test`,
      ...o.content(i + o.warm),
      messageId: `<${o.tag}-${i}@cinema.example>`,
    });
  try {
    await callers(o.warm, o.concurrency, (i) => mail(i - o.warm));
    await sink.waitFor(o.warm, 60_000);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await callers(o.n, o.concurrency, mail);
    await sink.waitFor(o.warm + o.n, 120_000);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    return { rate: o.n / secs, cpuPerMsg: (cpu.user + cpu.system) / 1000 / o.n, bytesPerMsg: sink.bytes() / sink.count() };
  } finally {
    t.close();
    await sink.close();
  }
}
