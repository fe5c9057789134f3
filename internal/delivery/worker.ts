import type { JsMsg } from "nats";
import type { User } from "../../gen/cinema/users/v1/user_directory_pb.js";
import { decodeJson } from "../bus/publish.js";
import { backoffFor, type Outcome } from "../bus/consumer.js";
import { DeliveryError, type Channel, type OutgoingMessage } from "../channel/channel.js";
import { lazyChild, type Logger } from "../log/logger.js";
import { DeliveryState, type DeliverMessage } from "../notification/model.js";
import type { Db } from "../store/db.js";
import { isTransientDbError } from "../store/db.js";
import { userToVariables, type TemplateCatalog } from "../template/index.js";
import type { UsersClient } from "../users/client.js";
import { carriedUser } from "../users/profile.js";
import { allAvailable, type Availability } from "../reliability/availability.js";
import { classifyUsers, isInfrastructureError } from "../reliability/classify.js";
import type { ClaimResult, Ledger } from "./ledger.js";
import { createKeyedBatcher } from "../store/batcher.js";
import { retryThroughOutbox, type LaterRetry } from "./retry-later.js";

/**
 * Adds per-delivery data and headers (unsubscribe links, tracking) before rendering. Returning
 * `skip` (a reason such as "suppressed") records the delivery as skipped instead of sending it;
 * `locale` is the recipient's preferred locale (a locale the sender asked for still wins).
 */
export type Decorator = (ctx: {
  msg: DeliverMessage;
  user?: User;
  templateKey: string;
}) => Promise<{ data?: Record<string, unknown>; headers?: Record<string, string>; skip?: string; locale?: string }>;

/** Told about each permanent channel failure with the address it was for (bounce handling), and the delivery's logger. */
export type FailureListener = (msg: DeliverMessage, err: DeliveryError, address: string | undefined, log: Logger) => Promise<void>;

export interface WorkerDeps {
  db: Db;
  ledger: Ledger;
  channel: Channel;
  templates: TemplateCatalog;
  users: Pick<UsersClient, "getUser"> & { breaker?: Availability };
  log: Logger;
  /** The retry schedule (NOTIFY_RETRY_BACKOFF): the delay after attempt n is backoffMs[n-1]. */
  backoffMs?: number[];
  /** Where a chunk's entries to try again are published, each on its own (the channel's deliver subject). */
  retrySubject?: string;
  decorators?: Decorator[];
  failureListeners?: FailureListener[];
  /** Called with each outcome, for metrics; reason for failed, retry and skipped (err.reason, skip reason). */
  observe?: (event: "sent" | "failed" | "retry" | "skipped" | "duplicate", ms: number, msg?: DeliverMessage, reason?: string) => void;
}

interface NotificationData {
  data: Record<string, unknown>;
  templateKey: string;
  senderId: string;
  automatic: boolean;
}

const hasIds = (msg: DeliverMessage | undefined) => typeof msg?.d === "string" && typeof msg.n === "string";

/** A promise's outcome as a value, so it can be started now, awaited later, or dropped without an unhandled rejection. */
const settled = <T>(p: Promise<T>) => p.then((v) => ({ ok: true as const, v }), (err: unknown) => ({ ok: false as const, err }));

/**
 * One delivery attempt: claim the ledger row, enrich, render the pinned version, send, record.
 * A row already final is acknowledged and skipped, which is what makes redelivery harmless.
 */
export function createDeliveryWorker(d: WorkerDeps) {
  // Campaigns send one notification to many users; its data is read once, not once per recipient.
  // Concurrent deliveries of different notifications share one query.
  const cache = new Map<string, { v: NotificationData; until: number }>();
  const readNotifications = createKeyedBatcher<string, NotificationData>(async (ids) => {
    const [rows] = (await d.db.query(
      "SELECT id, data, template_key, sender_id, source, campaign_id FROM notifications WHERE id IN (?)",
      [ids],
    )) as unknown as [{ id: string; data: string; template_key: string; sender_id: string; source: string; campaign_id: number | null }[]];
    return new Map(
      rows.map((r) => [
        r.id,
        {
          data: JSON.parse(r.data) as Record<string, unknown>,
          templateKey: r.template_key,
          senderId: r.sender_id,
          automatic: r.campaign_id == null,
        },
      ]),
    );
  });
  const loadNotification = async (msg: DeliverMessage): Promise<NotificationData | undefined> => {
    // A single Send's data travels in the message (see the planner); it has no campaign, so it is automatic.
    if (msg.x) return { data: JSON.parse(msg.x.data) as Record<string, unknown>, templateKey: msg.x.template, senderId: msg.x.sender, automatic: true };
    const id = msg.n;
    const hit = cache.get(id);
    if (hit && hit.until > Date.now()) return hit.v;
    const v = await readNotifications(id);
    if (!v) return undefined;
    if (cache.size > 5000) cache.clear();
    cache.set(id, { v, until: Date.now() + 60_000 });
    return v;
  };

  const log = d.log.child({ channel: d.channel.name });
  // What a delivery needs before it may be claimed: the channel's way out and, for a user id, the
  // user service. While one is down the message waits here (kept alive by the consumer loop), its
  // lease not taken and no attempt spent.
  const parts = (withUser: boolean) =>
    [d.channel.availability, withUser ? d.users.breaker : undefined].filter((a): a is Availability => a !== undefined);
  const gates = { user: allAvailable(parts(true)), bare: allAvailable(parts(false)) };

  // The user directory is asked only for what a delivery needs from it: an address (an in-app
  // notification goes to the user id itself), `user.*` in the template, or the user's locale when the
  // template has several and the sender named none. A template that cannot be read answers "needed",
  // and rendering reports why.
  const needsUser = async (msg: DeliverMessage, userId: string): Promise<boolean> =>
    !d.channel.address({ userId }) || (await d.templates.needsUser(msg.v, d.channel.name, msg.l || undefined).catch(() => true));

  async function handle(m: JsMsg, signal?: AbortSignal): Promise<Outcome> {
    let body: DeliverMessage | DeliverMessage[];
    try {
      body = decodeJson<DeliverMessage | DeliverMessage[]>(m.data);
      if (Array.isArray(body) ? !body.every(hasIds) : !hasIds(body)) throw new Error("missing ids");
    } catch (err) {
      return { kind: "poison", reason: `undecodable delivery message: ${(err as Error).message}` };
    }
    if (Array.isArray(body)) return handleChunk(body, m.info.deliveryCount, signal);
    const msg = body;
    // A delivery first tried where it was planned (local.ts) carries that attempt in `k`.
    const attempt = m.info.deliveryCount + (msg.k ?? 0);
    const out = await attemptDelivery(msg, attempt, signal);
    return out.kind === "retry" && msg.k ? { ...out, attempt } : out;
  }

  /**
   * A chunk (chunks.ts): its deliveries are attempted side by side, each as if it had come alone with
   * the chunk's delivery count. The ones to try again leave through the outbox as messages of their
   * own, carrying the attempts made, and the chunk is acknowledged once every entry is settled. An
   * entry whose attempt threw (the ledger was unreachable) goes the same way, as not attempted; if the
   * outbox cannot be written either, the chunk itself comes back, and the entries settled meanwhile
   * are skipped then by their claims. The one difference from single messages: an entry of a chunk
   * that was itself delivered MaxDeliver times may get one attempt more before its dead letter.
   */
  async function handleChunk(entries: DeliverMessage[], deliveryCount: number, signal?: AbortSignal): Promise<Outcome> {
    if (!d.retrySubject) throw new Error("chunked delivery messages need the worker's retrySubject");
    const later: LaterRetry[] = [];
    await Promise.all(
      entries.map(async (msg) => {
        const attempt = deliveryCount + (msg.k ?? 0);
        let out: Outcome;
        try {
          out = await attemptDelivery(msg, attempt, signal);
        } catch (err) {
          out = { kind: "retry", error: (err as Error).message, notAttempted: true };
        }
        if (out.kind !== "retry") return;
        const delayMs = out.delayMs ?? backoffFor(d.backoffMs ?? [], attempt);
        later.push({ msg, delayMs, k: out.notAttempted ? attempt - 1 : attempt });
      }),
    );
    await retryThroughOutbox(d.db, d.retrySubject, later);
    return { kind: "ack" };
  }

  /**
   * Attempt 1 of a delivery whose row the planner in this process inserted already claimed (sending,
   * attempts 1, leased): no gate wait (the caller checked `ready()`), no claim round trip.
   */
  const deliverClaimed = (msg: DeliverMessage): Promise<Outcome> => attemptDelivery(msg, 1, undefined, { kind: "claimed", uncertain: false, attempts: 1 });

  /** Whether a delivery could start now without waiting for a dependency (the stricter gate: with a user lookup). */
  const ready = () => gates.user.available;

  async function attemptDelivery(msg: DeliverMessage, attempt: number, signal?: AbortSignal, preclaimed?: ClaimResult & { kind: "claimed" }): Promise<Outcome> {
    const started = Date.now();
    const dlog = lazyChild(log, { notificationId: msg.n, deliveryId: msg.d, attempt });
    const retryIn = d.backoffMs ? backoffFor(d.backoffMs, attempt) : undefined;

    const userId = msg.u && (await needsUser(msg, msg.u)) ? msg.u : undefined;
    // A campaign's fan-out may have read the user a moment ago; then the user service is not needed.
    const carried = userId ? carriedUser(msg.p, Date.now()) : undefined;
    const gate = userId && !carried ? gates.user : gates.bare;
    if (!preclaimed && !gate.available) {
      try {
        await gate.whenAvailable(signal);
      } catch {
        return { kind: "retry", error: "worker stopping while a dependency was down", delayMs: 0, notAttempted: true };
      }
    }

    // The notification and the user are looked up while the row is claimed, not after: each is a
    // round trip of its own, and under load the waits add up. A lookup for a claim that is refused
    // costs little (both are cached) and its outcome is dropped.
    const notification = settled(loadNotification(msg));
    const recipientUser = userId ? settled(carried ? Promise.resolve(carried) : d.users.getUser(userId)) : undefined;
    const claim = preclaimed ?? (await d.ledger.claim(msg.d));
    if (claim.kind === "missing") return { kind: "term", reason: `unknown delivery ${msg.d}` };
    if (claim.kind === "done") {
      d.observe?.("duplicate", 0, msg);
      return { kind: "ack" };
    }
    if (claim.kind === "busy" || claim.kind === "held") {
      return { kind: "retry", error: claim.kind, delayMs: claim.retryInMs, notAttempted: true };
    }
    if (claim.uncertain) dlog.warn("lease expired after an unconfirmed attempt; sending again with the same id");

    const fail = async (err: DeliveryError): Promise<Outcome> => {
      if (err.transient) {
        // A dependency whose breaker opened under this attempt: the attempt never reached it, and the
        // paused consumer brings the message back once the dependency is.
        const circuit = err.reason === "circuit_open";
        const delayMs = circuit ? 1000 : retryIn;
        await d.ledger.release(msg.d, err.message, { retryInMs: delayMs, uncertain: err.uncertain, notAttempted: circuit });
        d.observe?.("retry", Date.now() - started, msg, err.reason);
        dlog.info({ reason: err.reason, err: err.message }, "delivery attempt failed; will retry");
        return { kind: "retry", error: `${err.reason}: ${err.message}`, delayMs, notAttempted: circuit };
      }
      await d.ledger.finish(msg.d, DeliveryState.Failed, `${err.reason}: ${err.message}`);
      d.observe?.("failed", Date.now() - started, msg, err.reason);
      dlog.info({ reason: err.reason }, "delivery failed permanently");
      return { kind: "term", reason: err.reason };
    };

    try {
      const loaded = await notification;
      if (!loaded.ok) throw loaded.err;
      const n = loaded.v;
      if (!n) return fail(new DeliveryError(`notification ${msg.n} not found`, false, "notification_missing"));
      let user: User | undefined;
      if (recipientUser) {
        const found = await recipientUser;
        if (!found.ok) {
          const c = classifyUsers(found.err);
          return fail(new DeliveryError(c.message, c.transient, /circuit open/.test(c.message) ? "circuit_open" : c.reason));
        }
        user = found.v;
        if (!user) return fail(new DeliveryError(`unknown user ${msg.u}`, false, "unknown_user"));
      }
      const recipient = { userId: msg.u, address: msg.a, user };
      if (!d.channel.address(recipient)) {
        return fail(new DeliveryError(`no ${d.channel.name} address for the recipient`, false, "no_address"));
      }
      const extra: Record<string, unknown> = {};
      const headers: Record<string, string> = {};
      let locale = msg.l || user?.locale || undefined;
      for (const dec of d.decorators ?? []) {
        const r = await dec({ msg, user, templateKey: n.templateKey });
        if (r.skip) {
          await d.ledger.finish(msg.d, DeliveryState.Skipped, r.skip);
          d.observe?.("skipped", Date.now() - started, msg, r.skip);
          return { kind: "ack" };
        }
        Object.assign(extra, r.data);
        Object.assign(headers, r.headers);
        if (r.locale && !msg.l) locale = r.locale;
      }
      let parts: Record<string, string>;
      try {
        const rendered = await d.templates.render(msg.v, locale, d.channel.name, {
          ...n.data,
          ...extra,
          ...(user ? { user: userToVariables(user) } : {}),
        });
        parts = rendered.parts;
      } catch (err) {
        if (isTransientDbError(err)) throw err;
        return fail(new DeliveryError(`render: ${(err as Error).message}`, false, "template_error"));
      }
      const out: OutgoingMessage = {
        deliveryId: msg.d,
        notificationId: msg.n,
        category: msg.c,
        templateKey: n.templateKey,
        senderId: n.senderId,
        recipient,
        parts,
        headers,
        automatic: n.automatic,
        log: dlog,
        sentDetail: claim.uncertain ? `attempt ${claim.attempts} (resent after uncertain)` : `attempt ${claim.attempts}`,
      };
      let sent;
      try {
        sent = await d.channel.send(out);
      } catch (err) {
        if (err instanceof DeliveryError) {
          if (!err.transient) {
            for (const l of d.failureListeners ?? []) {
              await l(msg, err, d.channel.address(recipient), dlog).catch((e) => dlog.warn({ err: (e as Error).message }, "failure listener failed"));
            }
          }
          return fail(err);
        }
        return fail(new DeliveryError((err as Error).message, true, "channel_error"));
      }
      if (!sent.recorded) await recordSent(msg.d, sent.messageId, out.sentDetail);
      d.observe?.("sent", Date.now() - started, msg);
      dlog.debug("delivery sent");
      return { kind: "ack" };
    } catch (err) {
      // Infrastructure trouble (database, broker): give the row back and let the broker retry later.
      await d.ledger.release(msg.d, (err as Error).message, { retryInMs: retryIn }).catch(() => undefined);
      dlog.warn({ err: (err as Error).message }, "delivery attempt errored; will retry");
      return { kind: "retry", error: (err as Error).message, delayMs: retryIn, notAttempted: isInfrastructureError(err) };
    }
  }

  // After the channel accepted the message, recording it must not give up on a brief database hiccup:
  // giving up here is what turns one email into two.
  async function recordSent(id: string, messageId: string, detail: string) {
    let wait = 100;
    for (let i = 0; ; i++) {
      try {
        return await d.ledger.sent(id, messageId, detail);
      } catch (err) {
        if (i >= 8) throw err;
        log.warn({ deliveryId: id, err: (err as Error).message }, "recording a sent delivery failed; retrying");
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * 2, 5000);
      }
    }
  }

  return { handle, deliverClaimed, ready };
}

export type DeliveryWorker = ReturnType<typeof createDeliveryWorker>;
