import Bottleneck from "bottleneck";
import nodemailer from "nodemailer";
import type { SendMailOptions } from "nodemailer/lib/mailer";

type Transporter = ReturnType<typeof nodemailer.createTransport>;
import type { BreakerSettings, RampSettings } from "../config/config.js";
import { maskAddress } from "../log/logger.js";
import { anyAvailable } from "../reliability/availability.js";
import { BreakerOpenError, createBreaker, type Breaker } from "../reliability/breaker.js";
import { classifySmtp } from "../reliability/classify.js";
import { createRamp } from "../reliability/ramp.js";
import { probeSmtp } from "../reliability/smtp-probe.js";
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
  /** One breaker per relay; unset means the defaults (5 failures in 10 s, probe every 5 s). */
  breaker?: BreakerSettings;
  /** How the send rate returns after a relay recovers; unset means 10% -> 100% over 60 s. */
  ramp?: RampSettings;
}

/** A relay-level classification as a DeliveryError (kept for callers of the first version). */
export function classifySmtpError(err: unknown): DeliveryError {
  const c = classifySmtp(err);
  return new DeliveryError(c.message, c.transient, c.reason, c.uncertain ?? false);
}

interface Relay {
  name: string;
  transport: Transporter;
  breaker: Breaker;
}

/**
 * Email over SMTP. Each relay has its own circuit breaker; mail goes through the first relay whose
 * breaker is closed (NOTIFY_SMTP_URL first, then NOTIFY_SMTP_FALLBACK_URL). A relay-level failure
 * that certainly left nothing at the relay (a 4xx before the body, a refused connection) is tried on
 * the next relay at once; anything else goes back to the worker for a later attempt.
 */
export function createEmailChannel(o: EmailOptions, deps: Pick<ChannelDeps, "log">): Channel & { transports: Transporter[]; breakers: Breaker[] } {
  const log = deps.log.child({ channel: "email" });
  const breakerSettings = o.breaker ?? { threshold: 5, windowMs: 10_000, probeMs: 5000 };
  const relays: Relay[] = o.urls.map((url, i) => {
    const name = i === 0 ? "smtp:primary" : `smtp:fallback${o.urls.length > 2 ? i : ""}`;
    return {
      name,
      transport: nodemailer.createTransport({
        url,
        pool: true,
        maxConnections: o.pool,
        // The default (100) recycles connections constantly under load.
        maxMessages: 100_000,
        disableFileAccess: true,
        disableUrlAccess: true,
        dkim: o.dkim,
      } as Parameters<typeof nodemailer.createTransport>[0]),
      breaker: createBreaker({
        name,
        ...breakerSettings,
        probe: () => probeSmtp(url, Math.max(1000, Math.min(10_000, breakerSettings.probeMs)), o.domain),
        log,
      }),
    };
  });
  // The rate cap spaces sends (minTime) rather than refilling a reservoir: Bottleneck 2.19 stops its
  // reservoir refresh timer on the second updateSettings, and the ramp changes the rate every second.
  const limiter = new Bottleneck({ maxConcurrent: o.concurrency, minTime: 1000 / o.rate });
  const setRate = (perSecond: number) => limiter.updateSettings({ minTime: 1000 / perSecond });
  const rampSettings = o.ramp ?? { durationMs: 60_000, startFraction: 0.1 };
  const ramp = createRamp({
    ...rampSettings,
    apply: (f) => setRate(Math.max(1, Math.round(o.rate * f))),
  });
  for (const r of relays) {
    r.breaker.onChange((up) => {
      if (!up) return;
      log.info({ relay: r.name, from: rampSettings.startFraction, overMs: rampSettings.durationMs }, "relay back; send rate ramps up");
      ramp.start();
    });
  }
  const availability = anyAvailable(relays.map((r) => r.breaker));

  const sendVia = async (relay: Relay, mail: SendMailOptions) => {
    try {
      await relay.transport.sendMail(mail);
      relay.breaker.success();
    } catch (err) {
      const c = classifySmtp(err);
      if (c.dependencyDown) relay.breaker.failure(err);
      else relay.breaker.success();
      throw Object.assign(new DeliveryError(c.message, c.transient, c.reason, c.uncertain ?? false), { dependencyDown: c.dependencyDown });
    }
  };

  return {
    name: "email",
    takesBareAddress: true,
    transports: relays.map((r) => r.transport),
    breakers: relays.map((r) => r.breaker),
    availability,
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
      await limiter.schedule(async () => {
        let last: unknown = new BreakerOpenError("every SMTP relay");
        for (const relay of relays) {
          if (!relay.breaker.available) continue;
          try {
            return await sendVia(relay, mail);
          } catch (err) {
            last = err;
            const e = err as DeliveryError & { dependencyDown?: boolean };
            log.warn({ deliveryId: m.deliveryId, relay: relay.name, to: maskAddress(to), reason: e.reason, err: e.message }, "smtp send failed");
            // Only a failure that certainly left nothing at this relay may go to the next one now.
            if (!(e.transient && e.dependencyDown && !e.uncertain)) break;
          }
        }
        if (last instanceof BreakerOpenError) throw new DeliveryError(last.message, true, "circuit_open");
        throw last;
      });
      return { messageId };
    },
    status: () => Object.fromEntries(relays.map((r) => [r.name, describe(r.breaker)])),
    async close() {
      for (const r of relays) r.breaker.close();
      ramp.finish();
      await limiter.stop({ dropWaitingJobs: false }).catch(() => undefined);
      for (const r of relays) r.transport.close();
    },
  };
}

function describe(b: Breaker): string {
  const s = b.status();
  return s.state === "closed" ? "closed" : `open since ${s.since}${s.lastError ? `: ${s.lastError}` : ""}`;
}
