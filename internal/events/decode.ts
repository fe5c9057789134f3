import { fromBinary, fromJson, toJson, type DescMessage, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import {
  CustomEventSchema,
  FilmAddedSchema,
  ReviewLikedSchema,
  SubscriptionExpiringSchema,
  UserRegisteredSchema,
} from "../../gen/notify/v1/events_pb.js";

export const EVENT_TYPE = /^[a-z][a-z0-9_]{0,63}$/;
const EVENT_ID = /^[\x21-\x7e]{1,100}$/;
const USER_ID = /^[A-Za-z0-9_.:@-]{1,64}$/;
const MAX_USERS = 1000;

/** An event from the site, whatever its wire format. */
export interface SiteEvent {
  id: string;
  type: string;
  occurredAt: Date;
  /** The users concerned: recipients of what the event triggers. */
  userIds: string[];
  /** The event's fields (proto field names); rule conditions match on these. */
  fields: JsonObject;
  /** Template variables: the fields, with a custom event's data spread on top. */
  data: JsonObject;
}

interface Kind {
  schema: DescMessage;
  /** Fields naming the users concerned. */
  users: string[];
  /** A user is required (the event means nothing without one). */
  needsUser: boolean;
}

const KINDS: Record<string, Kind> = {
  user_registered: { schema: UserRegisteredSchema, users: ["user_id"], needsUser: true },
  review_liked: { schema: ReviewLikedSchema, users: ["user_id"], needsUser: true },
  film_added: { schema: FilmAddedSchema, users: ["user_ids"], needsUser: false },
  subscription_expiring: { schema: SubscriptionExpiringSchema, users: ["user_id"], needsUser: true },
};
const CUSTOM: Kind = { schema: CustomEventSchema, users: ["user_ids"], needsUser: false };

export class DecodeError extends Error {}

/** The message type carried by events of this type. */
export function schemaFor(type: string): DescMessage {
  return (KINDS[type] ?? CUSTOM).schema;
}

const isJson = (contentType: string | undefined, data: Uint8Array) => {
  if (contentType) return /^application\/json\b/i.test(contentType.trim());
  // Without the header, sniff: no event message's binary form starts with '{' (a group start).
  for (const b of data) {
    if (b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d) continue;
    return b === 0x7b;
  }
  return false;
};

/**
 * Decodes and checks one event published to `<prefix>.events.<type>`. Throws DecodeError with a
 * reason for anything that cannot become a notification however often it is retried.
 */
export function decodeEvent(type: string, data: Uint8Array, contentType: string | undefined, now: Date): SiteEvent {
  if (!EVENT_TYPE.test(type)) throw new DecodeError(`event type "${type.slice(0, 80)}" must match ${EVENT_TYPE.source}`);
  const kind = KINDS[type] ?? CUSTOM;
  let msg;
  try {
    if (isJson(contentType, data)) {
      const json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data)) as JsonValue;
      msg = fromJson(kind.schema, json, { ignoreUnknownFields: true });
    } else {
      msg = fromBinary(kind.schema, data);
    }
  } catch (err) {
    throw new DecodeError(`cannot decode ${kind.schema.typeName}: ${(err as Error).message}`);
  }
  const fields = toJson(kind.schema, msg, { useProtoFieldName: true }) as JsonObject;
  const id = fields.event_id;
  if (typeof id !== "string" || !EVENT_ID.test(id)) throw new DecodeError("event_id: required, 1..100 printable ASCII characters");
  if (kind === CUSTOM && fields.type !== undefined && fields.type !== type) {
    throw new DecodeError(`type: "${String(fields.type)}" does not match the subject's type "${type}"`);
  }

  const userIds: string[] = [];
  for (const f of kind.users) {
    const v = fields[f];
    const list = Array.isArray(v) ? v : v === undefined ? [] : [v];
    list.forEach((u, i) => {
      if (typeof u !== "string" || !USER_ID.test(u)) throw new DecodeError(`${f}${Array.isArray(v) ? `[${i}]` : ""}: not a user id`);
      if (!userIds.includes(u)) userIds.push(u);
    });
  }
  if (kind.needsUser && userIds.length === 0) throw new DecodeError(`${kind.users[0]}: required`);
  if (userIds.length > MAX_USERS) throw new DecodeError(`at most ${MAX_USERS} users per event`);

  const occurred = (msg as { occurredAt?: Parameters<typeof timestampDate>[0] }).occurredAt;
  const occurredAt = occurred ? timestampDate(occurred) : now;
  if (Number.isNaN(occurredAt.getTime())) throw new DecodeError("occurred_at: not a valid time");

  const base: JsonObject = { ...fields, event_type: type };
  const custom = kind === CUSTOM && fields.data && typeof fields.data === "object" && !Array.isArray(fields.data) ? (fields.data as JsonObject) : {};
  return { id, type, occurredAt, userIds, fields, data: { ...base, ...custom } };
}
