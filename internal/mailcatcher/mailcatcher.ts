import http from "node:http";
import type { AddressInfo, Server } from "node:net";
import { simpleParser } from "mailparser";
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from "smtp-server";
import { maskAddress, type Logger } from "../log/logger.js";
import { createMessageStore, toCaughtMessage, type CaughtMessage } from "./message-store.js";
import { createWebHandler } from "./web.js";

export const DEFAULT_SMTP_ADDR = "127.0.0.1:1025";
export const DEFAULT_WEB_ADDR = "127.0.0.1:8025";
export const DEFAULT_MAX_MESSAGES = 1000;
const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;

export interface MailCatcherOptions {
  /** host:port for SMTP; port 0 picks a free one (read smtpPort after start). */
  smtpAddr?: string;
  /** host:port for the web view and JSON API; port 0 picks a free one. */
  webAddr?: string;
  /** How many messages to keep (newest win). */
  max?: number;
  log: Logger;
  /** Called after each message is stored. */
  onMessage?: (msg: CaughtMessage) => void;
}

export interface MailCatcher {
  start(): Promise<void>;
  close(): Promise<void>;
  /** Caught messages, newest first. */
  messages(): CaughtMessage[];
  /** Raw source of a caught message. */
  raw(id: string): Buffer | undefined;
  clear(): void;
  readonly smtpPort: number;
  readonly webPort: number;
}

function splitHostPort(addr: string): { host: string; port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr);
  if (!m) throw new Error(`address must be host:port, got "${addr}"`);
  return { host: m[1], port: Number(m[2]) };
}

function listen(server: Server, port: number, host: string) {
  return new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

export function createMailCatcher(opts: MailCatcherOptions): MailCatcher {
  const log = opts.log;
  const smtpAt = splitHostPort(opts.smtpAddr ?? DEFAULT_SMTP_ADDR);
  const webAt = splitHostPort(opts.webAddr ?? DEFAULT_WEB_ADDR);
  const store = createMessageStore(opts.max ?? DEFAULT_MAX_MESSAGES);
  let smtpPort = smtpAt.port;
  let webPort = webAt.port;

  async function accept(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    if (stream.sizeExceeded) {
      throw Object.assign(new Error(`message exceeds ${MAX_MESSAGE_BYTES} bytes`), { responseCode: 552 });
    }
    const raw = Buffer.concat(chunks);
    const receivedAt = new Date();
    const parsed = await simpleParser(raw, { skipImageLinks: true });
    const mailFrom = session.envelope.mailFrom;
    const envelope = {
      from: mailFrom ? mailFrom.address : "",
      to: session.envelope.rcptTo.map((r) => r.address),
    };
    const msg = toCaughtMessage(store.nextId(), parsed, raw, envelope, receivedAt);
    store.add(msg, raw);
    log.debug({ id: msg.id, size: raw.length, to: envelope.to.map(maskAddress) }, "mail caught");
    try {
      opts.onMessage?.(msg);
    } catch (err) {
      log.warn({ err }, "onMessage callback failed");
    }
  }

  const smtp = new SMTPServer({
    secure: false,
    // Without these three every connection waits on DNS or a TLS upgrade the dev sink does not need.
    disableReverseLookup: true,
    authOptional: true,
    hideSTARTTLS: true,
    // Senders configured with credentials for a real relay still work against the sink.
    allowInsecureAuth: true,
    onAuth: (auth, _session, cb) => cb(null, { user: auth.username ?? "anonymous" }),
    size: MAX_MESSAGE_BYTES,
    banner: "mailcatcher",
    logger: false,
    closeTimeout: 1000,
    onData(stream, session, cb) {
      accept(stream, session).then(
        () => cb(),
        (err: Error) => {
          log.warn({ err: err.message }, "mail rejected");
          cb(err);
        },
      );
    },
  });
  smtp.on("error", (err) => log.warn({ err }, "smtp error"));

  const web = http.createServer(createWebHandler(store));
  let started = false;

  return {
    get smtpPort() {
      return smtpPort;
    },
    get webPort() {
      return webPort;
    },
    messages: () => store.list(),
    raw: (id) => store.raw(id),
    clear: () => store.clear(),

    async start() {
      await listen(smtp.server, smtpAt.port, smtpAt.host);
      smtpPort = (smtp.server.address() as AddressInfo).port;
      try {
        await listen(web, webAt.port, webAt.host);
      } catch (err) {
        await new Promise<void>((resolve) => smtp.close(() => resolve()));
        throw err;
      }
      webPort = (web.address() as AddressInfo).port;
      started = true;
      log.info({ smtp: `${smtpAt.host}:${smtpPort}`, web: `http://${webAt.host}:${webPort}/` }, "mailcatcher listening");
    },

    async close() {
      if (!started) return;
      started = false;
      await Promise.all([
        new Promise<void>((resolve) => smtp.close(() => resolve())),
        new Promise<void>((resolve) => {
          web.close(() => resolve());
          web.closeAllConnections();
        }),
      ]);
      log.info("mailcatcher stopped");
    },
  };
}
