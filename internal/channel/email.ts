import Bottleneck from "bottleneck";
import nodemailer, { type Transporter } from "nodemailer";
import { maskAddress } from "../log/logger.js";
import { DeliveryError, type Channel, type ChannelDeps, type OutgoingMessage } from "./channel.js";

export interface EmailOptions {
  /** SMTP relays in order of preference: smtp://[user:pass@]host:port */
  urls: string[];
  pool: number;
  /** Messages per second at most, across relays. */
  rate: number;
  concurrency: number;
  from: string;
  /** Right-hand side of Message-IDs. */
  domain: string;
  /** DKIM signing; unset means unsigned. */
  dkim?: { domainName: string; keySelector: string; privateKey: string };
}

// Permanent SMTP answers (5xx) mean this message to this address will never go through; 4xx and
// network trouble may pass later.
const NETWORK_CODES = new Set(["ECONNECTION", "ETIMEDOUT", "ESOCKET", "ECONNREFUSED", "ECONNRESET", "EDNS", "EPIPE", "ETLS", "EPROTOCOL"]);

export function classifySmtpError(err: unknown): DeliveryError {
  const e = err as { responseCode?: number; code?: string; message?: string };
  const msg = (e.message ?? String(err)).replace(/\s+/g, " ").slice(0, 300);
  if (typeof e.responseCode === "number") {
    if (e.responseCode >= 500) return new DeliveryError(`smtp ${e.responseCode}: ${msg}`, false, "smtp_rejected");
    if (e.responseCode >= 400) return new DeliveryError(`smtp ${e.responseCode}: ${msg}`, true, "smtp_tempfail");
  }
  if (e.code && NETWORK_CODES.has(e.code)) return new DeliveryError(`smtp ${e.code}: ${msg}`, true, "smtp_unreachable");
  if (e.code === "EENVELOPE") return new DeliveryError(`smtp envelope: ${msg}`, false, "invalid_address");
  return new DeliveryError(`smtp: ${msg}`, true, "smtp_error");
}

export function createEmailChannel(o: EmailOptions, deps: Pick<ChannelDeps, "log">): Channel & { transports: Transporter[] } {
  const transports = o.urls.map((url) =>
    nodemailer.createTransport({
      url,
      pool: true,
      maxConnections: o.pool,
      // The default (100) recycles connections constantly under load.
      maxMessages: 100_000,
      disableFileAccess: true,
      disableUrlAccess: true,
      dkim: o.dkim,
    } as nodemailer.TransportOptions),
  );
  const limiter = new Bottleneck({ maxConcurrent: o.concurrency, minTime: 0, reservoir: null });
  limiter.updateSettings({
    reservoir: o.rate,
    reservoirRefreshAmount: o.rate,
    reservoirRefreshInterval: 1000,
  });
  const log = deps.log.child({ channel: "email" });

  return {
    name: "email",
    parts: ["subject", "html", "text"],
    takesBareAddress: true,
    transports,
    address: (r) => r.address ?? (r.user?.email || undefined),
    async send(m: OutgoingMessage) {
      const to = m.recipient.address ?? m.recipient.user?.email;
      if (!to) throw new DeliveryError("user has no email address", false, "no_address");
      const messageId = `<${m.deliveryId}@${o.domain}>`;
      const headers: Record<string, string> = { ...m.headers };
      if (m.automatic) headers["Auto-Submitted"] = "auto-generated";
      const mail = {
        from: o.from,
        to,
        subject: (m.parts.subject ?? "").replace(/[\r\n]+/g, " "),
        html: m.parts.html,
        text: m.parts.text,
        messageId,
        headers,
      };
      try {
        await limiter.schedule(() => transports[0].sendMail(mail));
      } catch (err) {
        const de = classifySmtpError(err);
        log.warn({ deliveryId: m.deliveryId, to: maskAddress(to), reason: de.reason, err: de.message }, "smtp send failed");
        throw de;
      }
      return { messageId };
    },
    status: () => ({ smtp: "up" }),
    async close() {
      await limiter.stop({ dropWaitingJobs: false }).catch(() => undefined);
      for (const t of transports) t.close();
    },
  };
}
