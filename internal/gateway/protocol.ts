/**
 * The websocket protocol (JSON text frames), documented with examples in docs/websocket.md.
 * Server -> client: hello, notification, unread, warning, error, ok, pong.
 * Client -> server: ack, read, mute, unmute, ping. Any client message may carry `ref` (a string or
 * number of the client's choosing): commands with a ref are answered with `ok` or `error` and the ref.
 */
import type { InboxItem } from "./inbox-store.js";
import { MUTABLE_CATEGORIES, type Mute } from "./mutes.js";

export type Ref = string | number;

export type ClientMessage =
  | { type: "ack"; ids: string[]; ref?: Ref }
  | { type: "read"; ids: string[]; all: boolean; ref?: Ref }
  | { type: "mute" | "unmute"; mute: Mute; ref?: Ref }
  | { type: "ping"; ref?: Ref };

export type ParseResult = { ok: true; msg: ClientMessage } | { ok: false; code: string; reason: string; ref?: Ref };

/** At most this many ids in one ack or read. */
export const MAX_IDS = 100;
const ID = /^[0-9a-fA-F-]{36}$/;
const USER_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;

const fail = (code: string, reason: string, ref?: Ref): ParseResult => ({ ok: false, code, reason, ref });

function parseRef(v: unknown): Ref | undefined | false {
  if (v === undefined) return undefined;
  if ((typeof v === "string" && v.length <= 64) || (typeof v === "number" && Number.isFinite(v))) return v;
  return false;
}

function parseIds(o: Record<string, unknown>): string[] | string {
  const raw = o.ids ?? (o.id !== undefined ? [o.id] : undefined);
  if (!Array.isArray(raw) || raw.length === 0) return "ids must be a non-empty array of item ids";
  if (raw.length > MAX_IDS) return `at most ${MAX_IDS} ids per message`;
  for (const id of raw) if (typeof id !== "string" || !ID.test(id)) return "ids must be item ids (UUIDs)";
  return raw as string[];
}

export function parseClientMessage(text: string): ParseResult {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return fail("malformed_json", "the message is not valid JSON");
  }
  if (v === null || typeof v !== "object" || Array.isArray(v)) return fail("not_an_object", "a message is a JSON object with a type");
  const o = v as Record<string, unknown>;
  const ref = parseRef(o.ref);
  if (ref === false) return fail("bad_ref", "ref must be a string of at most 64 characters or a number");
  switch (o.type) {
    case "ping":
      return { ok: true, msg: { type: "ping", ref } };
    case "ack": {
      const ids = parseIds(o);
      return typeof ids === "string" ? fail("bad_ids", ids, ref) : { ok: true, msg: { type: "ack", ids, ref } };
    }
    case "read": {
      if (o.all === true) return { ok: true, msg: { type: "read", ids: [], all: true, ref } };
      const ids = parseIds(o);
      return typeof ids === "string" ? fail("bad_ids", ids, ref) : { ok: true, msg: { type: "read", ids, all: false, ref } };
    }
    case "mute":
    case "unmute": {
      const hasSender = o.sender !== undefined;
      const hasCategory = o.category !== undefined;
      if (hasSender === hasCategory) return fail("bad_mute", "give exactly one of sender or category", ref);
      if (hasSender) {
        if (typeof o.sender !== "string" || !USER_ID.test(o.sender)) return fail("bad_mute", "sender must be a user id", ref);
        return { ok: true, msg: { type: o.type, mute: { kind: "sender", value: o.sender }, ref } };
      }
      if (typeof o.category !== "string" || !(MUTABLE_CATEGORIES as readonly string[]).includes(o.category)) {
        return fail("bad_mute", `category must be one of ${MUTABLE_CATEGORIES.join(", ")}`, ref);
      }
      return { ok: true, msg: { type: o.type, mute: { kind: "category", value: o.category }, ref } };
    }
    default:
      return fail(
        "unknown_type",
        typeof o.type === "string" ? `unknown message type "${o.type.slice(0, 40)}"` : "the message has no type",
        ref,
      );
  }
}

/** The notification as clients see it. */
export function itemJson(it: InboxItem) {
  return {
    id: it.id,
    notificationId: it.notificationId,
    category: it.category,
    senderId: it.senderId || undefined,
    template: it.template,
    title: it.title,
    body: it.body,
    createdAt: it.createdAt.toISOString(),
    readAt: it.readAt?.toISOString(),
  };
}

export const frames = {
  hello: (userId: string, unread: number, heartbeatMs: number, maxMsgsPerSec: number) =>
    JSON.stringify({ type: "hello", userId, unread, heartbeatMs, maxMsgsPerSec }),
  notification: (it: InboxItem) => JSON.stringify({ type: "notification", notification: itemJson(it) }),
  unread: (count: number, read: string[]) => JSON.stringify({ type: "unread", count, read }),
  warning: (code: string, reason: string, ref?: Ref) => JSON.stringify({ type: "warning", code, reason, ref }),
  error: (code: string, reason: string, ref?: Ref) => JSON.stringify({ type: "error", code, reason, ref }),
  ok: (op: string, ref: Ref, extra: Record<string, unknown> = {}) => JSON.stringify({ type: "ok", op, ref, ...extra }),
  pong: (ref?: Ref) => JSON.stringify({ type: "pong", ref }),
};

/** The item id of a notification frame, without parsing the whole frame (queued frames at connect). */
export function frameItemId(frame: string): string | undefined {
  const m = /^\{"type":"notification","notification":\{"id":"([0-9a-fA-F-]{36})"/.exec(frame);
  return m?.[1];
}
