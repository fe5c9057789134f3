import type { Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { simpleParser, type AddressObject, type ParsedMail } from "mailparser";
import { SMTPServer, type SMTPServerSession } from "smtp-server";

// An SMTP server inside the test process that records what it accepts and fails on demand, so tests
// can prove retries (4xx), permanent failures (5xx), lost connections and duplicates (same Message-ID).

export type SinkStage = "mail" | "rcpt" | "data";

export type SinkMode =
  | { kind: "ok" }
  /** 4xx at the stage (default 451 at MAIL FROM). 421 also closes the connection, as real servers do. */
  | { kind: "tempfail"; code?: 421 | 450 | 451 | 452; at?: SinkStage; times?: number }
  /** 5xx (default 550) at RCPT TO for `recipients` (all when omitted), or at another stage. */
  | { kind: "permfail"; code?: 550 | 551 | 552 | 553 | 554; at?: SinkStage; recipients?: Array<string | RegExp>; times?: number }
  /**
   * Destroys the socket without a reply. At "after-data" the message is recorded first: the client
   * never sees the 250 for a mail that was in fact delivered (the uncertain window).
   */
  | { kind: "drop"; at?: SinkStage | "after-data"; times?: number }
  /** Waits `delayMs` before answering at the stage (default: after DATA). */
  | { kind: "slow"; delayMs: number; at?: SinkStage };

export interface SinkMessage {
  /** As in the header, with angle brackets; undefined when the mail has none. */
  messageId?: string;
  envelopeFrom: string;
  envelopeTo: string[];
  /** Addresses of the To header. */
  to: string[];
  subject: string;
  text: string;
  html: string;
  /** Header name (lower case) -> unfolded raw value; the first occurrence wins. */
  headers: Record<string, string>;
  raw: string;
  parsed: ParsedMail;
  receivedAt: number;
}

export interface SinkStats {
  connections: number;
  transactions: number;
  accepted: number;
  faults: number;
}

export interface SmtpSink {
  readonly host: string;
  readonly port: number;
  /** smtp://127.0.0.1:PORT, as NOTIFY_SMTP_URL takes it. */
  readonly url: string;
  messages(): SinkMessage[];
  uniqueMessageIds(): string[];
  /** Message-IDs accepted more than once, with their counts. */
  duplicates(): Array<{ messageId: string; count: number }>;
  countFor(messageId: string): number;
  setMode(mode: SinkMode): void;
  mode(): SinkMode;
  /** Permanently rejects RCPT TO for matching addresses (independent of the mode). */
  rejectRecipients(pattern: string | RegExp, code?: number): void;
  clearRejections(): void;
  /** Resolves once at least `count` messages were accepted in total. */
  waitForMessages(count: number, timeoutMs?: number): Promise<SinkMessage[]>;
  stats(): SinkStats;
  /** Forgets recorded messages and counters (mode and rejections stay). */
  reset(): void;
  close(): Promise<void>;
}

function smtpError(code: number, message: string): Error {
  return Object.assign(new Error(message), { responseCode: code });
}

function matches(address: string, pattern: string | RegExp): boolean {
  return typeof pattern === "string" ? address.toLowerCase() === pattern.toLowerCase() : pattern.test(address);
}

function addresses(field: AddressObject | AddressObject[] | undefined): string[] {
  if (!field) return [];
  const list = Array.isArray(field) ? field : [field];
  return list.flatMap((a) => a.value.map((v) => v.address ?? "")).filter(Boolean);
}

function rawHeaders(parsed: ParsedMail): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, line } of parsed.headerLines) {
    if (key in out) continue;
    out[key] = line
      .slice(line.indexOf(":") + 1)
      .replace(/\r?\n[ \t]+/g, " ")
      .trim();
  }
  return out;
}

export async function startSmtpSink(opts: { port?: number } = {}): Promise<SmtpSink> {
  let current: SinkMode = { kind: "ok" };
  let faultsLeft = Infinity;
  const rejections: Array<{ pattern: string | RegExp; code: number }> = [];
  let recorded: SinkMessage[] = [];
  let counts = new Map<string, number>();
  const stats: SinkStats = { connections: 0, transactions: 0, accepted: 0, faults: 0 };
  const waiters = new Set<() => void>();
  const sockets = new Map<number, Socket>();

  // Whether the current fault mode fires now; `times` counts faults, then the sink heals itself.
  const fault = (): boolean => {
    if (faultsLeft <= 0) return false;
    faultsLeft--;
    stats.faults++;
    if (faultsLeft <= 0) {
      current = { kind: "ok" };
      faultsLeft = Infinity;
    }
    return true;
  };

  const drop = (session: SMTPServerSession) => {
    sockets.get(session.remotePort)?.destroy();
  };

  /** Applies the mode at a stage: calls `proceed` unless the mode answers (or drops) instead. */
  const atStage = async (
    stage: SinkStage,
    session: SMTPServerSession,
    callback: (err?: Error | null) => void,
    proceed: () => void,
    recipient?: string,
  ) => {
    const m = current;
    if (m.kind === "slow" && (m.at ?? "data") === stage) {
      await sleep(m.delayMs);
      return proceed();
    }
    if (m.kind === "tempfail" && (m.at ?? "mail") === stage && fault()) {
      return callback(smtpError(m.code ?? 451, "Temporary failure (test sink), try again later"));
    }
    if (m.kind === "permfail" && (m.at ?? "rcpt") === stage) {
      const applies = !m.recipients || (recipient !== undefined && m.recipients.some((p) => matches(recipient, p)));
      if (applies && fault()) return callback(smtpError(m.code ?? 550, "Mailbox unavailable (test sink)"));
    }
    if (m.kind === "drop" && (m.at ?? "mail") === stage && fault()) return drop(session);
    proceed();
  };

  const record = async (raw: Buffer, session: SMTPServerSession) => {
    const parsed = await simpleParser(raw);
    const msg: SinkMessage = {
      messageId: parsed.messageId,
      envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
      envelopeTo: session.envelope.rcptTo.map((r) => r.address),
      to: addresses(parsed.to),
      subject: parsed.subject ?? "",
      text: parsed.text ?? "",
      html: typeof parsed.html === "string" ? parsed.html : "",
      headers: rawHeaders(parsed),
      raw: raw.toString("utf8"),
      parsed,
      receivedAt: Date.now(),
    };
    recorded.push(msg);
    stats.accepted++;
    if (msg.messageId) counts.set(msg.messageId, (counts.get(msg.messageId) ?? 0) + 1);
    for (const w of [...waiters]) w();
  };

  const server = new SMTPServer({
    disableReverseLookup: true,
    authOptional: true,
    allowInsecureAuth: true,
    hideSTARTTLS: true,
    logger: false,
    // Any credentials are fine: the sink stands in for relays that require AUTH too.
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username ?? "anonymous" });
    },
    onConnect(_session, callback) {
      stats.connections++;
      callback();
    },
    onMailFrom(_address, session, callback) {
      stats.transactions++;
      void atStage("mail", session, callback, () => callback());
    },
    onRcptTo(address, session, callback) {
      const rejected = rejections.find((r) => matches(address.address, r.pattern));
      if (rejected) {
        stats.faults++;
        return callback(smtpError(rejected.code, `Recipient ${address.address} rejected (test sink)`));
      }
      void atStage("rcpt", session, callback, () => callback(), address.address);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const raw = Buffer.concat(chunks);
        const m = current;
        if (m.kind === "drop" && m.at === "after-data" && fault()) {
          void record(raw, session).finally(() => drop(session));
          return;
        }
        void atStage("data", session, callback, () => {
          record(raw, session).then(
            () => callback(),
            (err: unknown) => callback(smtpError(451, `could not parse message: ${String(err)}`)),
          );
        });
      });
    },
  });

  server.server.on("connection", (socket: Socket) => {
    const port = socket.remotePort;
    if (port === undefined) return;
    sockets.set(port, socket);
    socket.once("close", () => sockets.delete(port));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  // Errors of single connections (a client that went away) must not crash the test process.
  server.on("error", () => {});
  const address = server.server.address();
  if (address === null || typeof address === "string") throw new Error("smtp sink has no TCP address");

  return {
    host: "127.0.0.1",
    port: address.port,
    url: `smtp://127.0.0.1:${address.port}`,
    messages: () => [...recorded],
    uniqueMessageIds: () => [...counts.keys()],
    duplicates: () =>
      [...counts.entries()].filter(([, n]) => n > 1).map(([messageId, count]) => ({ messageId, count })),
    countFor: (id) => counts.get(id) ?? 0,
    setMode(mode) {
      current = mode;
      faultsLeft = "times" in mode && mode.times !== undefined ? mode.times : Infinity;
    },
    mode: () => current,
    rejectRecipients(pattern, code = 550) {
      rejections.push({ pattern, code });
    },
    clearRejections() {
      rejections.length = 0;
    },
    waitForMessages(count, timeoutMs = 30_000) {
      if (recorded.length >= count) return Promise.resolve([...recorded]);
      return new Promise((resolve, reject) => {
        const check = () => {
          if (recorded.length < count) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve([...recorded]);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`smtp sink: ${recorded.length}/${count} messages after ${timeoutMs} ms`));
        }, timeoutMs);
        waiters.add(check);
      });
    },
    stats: () => ({ ...stats }),
    reset() {
      recorded = [];
      counts = new Map();
      Object.assign(stats, { connections: 0, transactions: 0, accepted: 0, faults: 0 });
    },
    async close() {
      for (const s of sockets.values()) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
