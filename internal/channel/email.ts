import DKIM from "nodemailer/lib/dkim";
import type { BreakerSettings, RampSettings } from "../config/config.js";
import { maskAddress } from "../log/logger.js";
import { anyAvailable } from "../reliability/availability.js";
import { BreakerOpenError, createBreaker, type Breaker } from "../reliability/breaker.js";
import { classifySmtp } from "../reliability/classify.js";
import { createRamp } from "../reliability/ramp.js";
import { probeSmtp } from "../reliability/smtp-probe.js";
import { createPacer } from "../reliability/pacer.js";
import { DeliveryError, type Channel, type ChannelDeps, type OutgoingMessage } from "./channel.js";
import { AddressError, createComposer } from "./mime.js";
import { createSmtpPool, type SmtpPool } from "./smtp-pool.js";

export interface EmailOptions {
  /** SMTP relays in order of preference: smtp://[user:pass@]host:port */
  urls: string[];
  /** Connections per relay, and so sends under way at once. */
  pool: number;
  /** Messages per second at most, across relays. */
  rate: number;
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
  pool: SmtpPool;
  breaker: Breaker;
}

/**
 * Email over SMTP. Each relay has its own circuit breaker; mail goes through the first relay whose
 * breaker is closed (NOTIFY_SMTP_URL first, then NOTIFY_SMTP_FALLBACK_URL). A relay-level failure
 * that certainly left nothing at the relay (a 4xx before the body, a refused connection) is tried on
 * the next relay at once; anything else goes back to the worker for a later attempt.
 */
export function createEmailChannel(o: EmailOptions, deps: Pick<ChannelDeps, "log">): Channel & { breakers: Breaker[] } {
  const log = deps.log.child({ channel: "email" });
  const breakerSettings = o.breaker ?? { threshold: 5, windowMs: 10_000, probeMs: 5000 };
  const composer = createComposer(o.from);
  const dkim = o.dkim ? new DKIM(o.dkim) : undefined;
  const relays: Relay[] = o.urls.map((url, i) => {
    const name = i === 0 ? "smtp:primary" : `smtp:fallback${o.urls.length > 2 ? i : ""}`;
    return {
      name,
      pool: createSmtpPool({ url, size: o.pool, name: o.domain }),
      breaker: createBreaker({
        name,
        ...breakerSettings,
        probe: () => probeSmtp(url, Math.max(1000, Math.min(10_000, breakerSettings.probeMs)), o.domain),
        log,
      }),
    };
  });
  // A token bucket whose rate the ramp moves: it spaces sends at the configured rate; the pools'
  // size bounds how many are under way.
  let rate = o.rate;
  const pacer = createPacer({ rate: () => rate });
  const setRate = (perSecond: number) => {
    rate = perSecond;
  };
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

  // A send waits for a free connection after the breaker let it through; when the breaker opened
  // meanwhile it gives up before writing (circuit_open, not attempted) instead of trying a relay known
  // to be down, and instead of going out unpaced the moment the relay is back.
  const stillClosed = (relay: Relay) => () => {
    if (!relay.breaker.available) throw new BreakerOpenError(relay.name);
  };
  const sendVia = async (relay: Relay, envelope: { from: string; to: string[] }, raw: string) => {
    try {
      await relay.pool.send(envelope, dkim ? dkim.sign(raw) : raw, stillClosed(relay));
      relay.breaker.success();
    } catch (err) {
      const c = classifySmtp(err);
      // A refusal by our own breaker says nothing new about the relay.
      if (!(err instanceof BreakerOpenError)) {
        if (c.dependencyDown) relay.breaker.failure(err);
        else relay.breaker.success();
      }
      throw Object.assign(new DeliveryError(c.message, c.transient, c.reason, c.uncertain ?? false), { dependencyDown: c.dependencyDown });
    }
  };

  return {
    name: "email",
    takesBareAddress: true,
    breakers: relays.map((r) => r.breaker),
    availability,
    address: (r) => r.address ?? (r.user?.email || undefined),
    async send(m: OutgoingMessage) {
      const to = m.recipient.address ?? m.recipient.user?.email;
      if (!to) throw new DeliveryError("user has no email address", false, "no_address");
      const messageId = `<${m.deliveryId}@${o.domain}>`;
      const headers: Record<string, string> = { ...m.headers };
      if (m.automatic) headers["Auto-Submitted"] = "auto-generated";
      let raw: string;
      try {
        raw = composer.compose({ to, subject: m.parts.subject ?? "", html: m.parts.html, text: m.parts.text, messageId, headers });
      } catch (err) {
        if (err instanceof AddressError) throw new DeliveryError(err.message, false, "invalid_address");
        throw err;
      }
      const envelope = { from: composer.envelopeFrom, to: [to] };
      await pacer.take(1);
      let last: unknown;
      for (const relay of relays) {
        if (!relay.breaker.available) continue;
        try {
          await sendVia(relay, envelope, raw);
          return { messageId };
        } catch (err) {
          last = err;
          const e = err as DeliveryError & { dependencyDown?: boolean };
          m.log.warn({ relay: relay.name, to: maskAddress(to), reason: e.reason, err: e.message }, "smtp send failed");
          // Only a failure that certainly left nothing at this relay may go to the next one now.
          if (!(e.transient && e.dependencyDown && !e.uncertain)) break;
        }
      }
      if (last === undefined) throw new DeliveryError(new BreakerOpenError("every SMTP relay").message, true, "circuit_open");
      throw last;
    },
    status: () => Object.fromEntries(relays.map((r) => [r.name, describe(r.breaker)])),
    async close() {
      for (const r of relays) r.breaker.close();
      ramp.finish();
      for (const r of relays) r.pool.close();
    },
  };
}

function describe(b: Breaker): string {
  const s = b.status();
  return s.state === "closed" ? "closed" : `open since ${s.since}${s.lastError ? `: ${s.lastError}` : ""}`;
}
