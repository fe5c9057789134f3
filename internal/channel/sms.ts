import Bottleneck from "bottleneck";
import { parseDuration } from "../config/config.js";
import { DeliveryError, type Channel, type ChannelDeps, type OutgoingMessage } from "./channel.js";

/**
 * SMS through an HTTP SMS gateway, configured by NOTIFY_CHANNEL_SMS_* variables:
 *   URL (required; unset = channel off), AUTH (value of the auth header, e.g. "Bearer k"),
 *   AUTH_HEADER (default authorization), FROM (sender name, optional), RATE (messages/s, default 20),
 *   CONCURRENCY (default 8), TIMEOUT (default 5s), BREAKER_THRESHOLD (default 5), BREAKER_COOLDOWN (default 10s).
 * POST {phone, text, reference, from?} as JSON with Idempotency-Key = delivery id, so a gateway that
 * deduplicates never sends a retried delivery twice. 2xx sent; 408/429/5xx and network errors retried;
 * any other 4xx is a permanent failure.
 */
export interface SmsOptions {
  url: string;
  auth?: string;
  authHeader: string;
  from?: string;
  rate: number;
  concurrency: number;
  timeoutMs: number;
  breakerThreshold: number;
  breakerCooldownMs: number;
}

const PHONE = /^\+[1-9]\d{6,14}$/;
/** Ten concatenated segments; longer texts are cut rather than refused. */
const MAX_TEXT = 1530;

export function smsOptions(settings: Record<string, string>): SmsOptions | undefined {
  if (!settings.url) return undefined;
  const num = (v: string | undefined, d: number) => (v && Number.isFinite(Number(v)) && Number(v) > 0 ? Number(v) : d);
  const dur = (v: string | undefined, d: number) => (v ? parseDuration(v) ?? d : d);
  return {
    url: settings.url,
    auth: settings.auth,
    authHeader: settings.auth_header ?? "authorization",
    from: settings.from,
    rate: num(settings.rate, 20),
    concurrency: num(settings.concurrency, 8),
    timeoutMs: dur(settings.timeout, 5000),
    breakerThreshold: num(settings.breaker_threshold, 5),
    breakerCooldownMs: dur(settings.breaker_cooldown, 10_000),
  };
}

/** The registry's factory: the channel, or undefined (off) when NOTIFY_CHANNEL_SMS_URL is unset. */
export function smsChannelFromSettings(settings: Record<string, string>, deps: Pick<ChannelDeps, "log">): Channel | undefined {
  const o = smsOptions(settings);
  return o && createSmsChannel(o, deps);
}

export function classifySmsStatus(status: number, body: string): DeliveryError {
  const msg = `sms gateway ${status}: ${body.replace(/\s+/g, " ").slice(0, 200)}`;
  if (status === 408 || status === 429) return new DeliveryError(msg, true, "sms_throttled");
  if (status >= 500) return new DeliveryError(msg, true, "sms_gateway_error");
  return new DeliveryError(msg, false, "sms_rejected");
}

export function createSmsChannel(o: SmsOptions, deps: Pick<ChannelDeps, "log">): Channel {
  const log = deps.log.child({ channel: "sms" });
  const limiter = new Bottleneck({ maxConcurrent: o.concurrency, minTime: 0 });
  limiter.updateSettings({ reservoir: o.rate, reservoirRefreshAmount: o.rate, reservoirRefreshInterval: 1000 });
  // Breaker: after `threshold` gateway failures in a row (5xx, timeouts, refused connections) calls
  // fail fast as transient for the cool-down; then one trial call decides (half-open).
  let failures = 0;
  let openUntil = 0;
  let trial = false;
  const state = () => (openUntil === 0 ? "closed" : Date.now() < openUntil ? "open" : "half-open");

  async function post(m: OutgoingMessage, phone: string): Promise<string> {
    const headers: Record<string, string> = { "content-type": "application/json", "idempotency-key": m.deliveryId };
    if (o.auth) headers[o.authHeader] = o.auth;
    const body = JSON.stringify({ phone, text: (m.parts.sms ?? "").slice(0, MAX_TEXT), reference: m.deliveryId, ...(o.from ? { from: o.from } : {}) });
    let res: Response;
    try {
      res = await fetch(o.url, { method: "POST", headers, body, signal: AbortSignal.timeout(o.timeoutMs) });
    } catch (err) {
      throw new DeliveryError(`sms gateway unreachable: ${(err as Error).message}`, true, "sms_unreachable");
    }
    const text = await res.text().catch(() => "");
    if (!res.ok) throw classifySmsStatus(res.status, text);
    try {
      const j = JSON.parse(text) as { id?: unknown; message_id?: unknown };
      const id = j.id ?? j.message_id;
      if (typeof id === "string" || typeof id === "number") return String(id);
    } catch {
      // A gateway that answers 2xx without JSON still accepted the message.
    }
    return `sms:${m.deliveryId}`;
  }

  return {
    name: "sms",
    takesBareAddress: false,
    address: (r) => r.user?.phone || undefined,
    async send(m) {
      const phone = m.recipient.user?.phone ?? "";
      if (!PHONE.test(phone)) throw new DeliveryError("user has no phone number in E.164 form", false, "no_address");
      const s = state();
      if (s === "open" || (s === "half-open" && trial)) throw new DeliveryError("sms gateway unavailable (circuit open)", true, "sms_circuit_open");
      if (s === "half-open") trial = true;
      try {
        const messageId = await limiter.schedule(() => post(m, phone));
        failures = 0;
        openUntil = 0;
        trial = false;
        return { messageId };
      } catch (err) {
        const de = err instanceof DeliveryError ? err : new DeliveryError((err as Error).message, true, "sms_error");
        // Throttling says the gateway is up; a permanent refusal concerns one message.
        const down = de.transient && de.reason !== "sms_throttled";
        if (!down) failures = 0;
        if (down && (++failures >= o.breakerThreshold || trial)) {
          if (state() === "closed") log.warn({ failures }, "sms circuit open");
          openUntil = Date.now() + o.breakerCooldownMs;
        }
        trial = false;
        m.log.warn({ to: `${phone.slice(0, 3)}***${phone.slice(-2)}`, reason: de.reason, err: de.message }, "sms send failed");
        throw de;
      }
    },
    status: () => ({ sms: state() }),
    async close() {
      await limiter.stop({ dropWaitingJobs: false }).catch(() => undefined);
    },
  };
}
