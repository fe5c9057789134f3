import { Code, ConnectError } from "@connectrpc/connect";
import type { JsonObject } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import type { SendRequest } from "../../gen/notify/v1/notification_service_pb.js";

export const LIMITS = {
  recipients: 1000,
  batchItems: 1000,
  dataBytes: 64 * 1024,
  idempotencyKey: 128,
  email: 254,
  userId: 64,
};

export const CATEGORIES = ["transactional", "marketing", "service"] as const;

/** The recipient as stored: 'u:<id>' or 'e:<address>' keys make duplicates collapse. */
export type NormalRecipient = { userId: string } | { email: string };

export interface NormalRequest {
  idempotencyKey: string;
  template: string;
  templateVersion: number;
  recipients: NormalRecipient[];
  channels: string[];
  category: string;
  data: JsonObject;
  dataJson: string;
  sendAfter?: Date;
  locale: string;
  senderId: string;
}

export function invalid(field: string, message: string): ConnectError {
  return new ConnectError(`${field}: ${message}`, Code.InvalidArgument);
}

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
const USER_ID = /^[A-Za-z0-9_.:@-]+$/;
// Deliberately strict: one @, no whitespace or control characters (CRLF header injection), a dotted
// domain. RFC 5322's full grammar admits addresses no mail system here should send to.
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const LOCALE = /^[a-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})?$/;
const TEMPLATE_KEY = /^[a-z0-9_.-]{1,100}$/;
const CHANNEL = /^[a-z][a-z0-9_]{0,31}$/;

export function validateEmail(field: string, email: string): string {
  if (email.length > LIMITS.email) throw invalid(field, `address longer than ${LIMITS.email} characters`);
  if (/[\r\n]/.test(email)) throw invalid(field, "address contains a line break");
  if (!EMAIL.test(email)) throw invalid(field, `not a valid email address`);
  return email.toLowerCase();
}

/** Checks the shape of one request; the template-dependent checks come after the template is pinned. */
export function normalizeSend(req: SendRequest, prefix = ""): NormalRequest {
  const f = (name: string) => `${prefix}${name}`;
  const key = req.idempotencyKey;
  if (!key) throw invalid(f("idempotency_key"), "required");
  if (key.length > LIMITS.idempotencyKey) throw invalid(f("idempotency_key"), `longer than ${LIMITS.idempotencyKey} characters`);
  if (!PRINTABLE_ASCII.test(key)) throw invalid(f("idempotency_key"), "must be printable ASCII without spaces");
  if (!req.template) throw invalid(f("template"), "required");
  if (!TEMPLATE_KEY.test(req.template)) throw invalid(f("template"), "must match [a-z0-9_.-]{1,100}");
  if (req.recipients.length === 0) throw invalid(f("recipients"), "at least one recipient is required");
  if (req.recipients.length > LIMITS.recipients) throw invalid(f("recipients"), `at most ${LIMITS.recipients} recipients`);

  const seen = new Set<string>();
  const recipients: NormalRecipient[] = [];
  req.recipients.forEach((r, i) => {
    const rf = f(`recipients[${i}]`);
    let k: string;
    let n: NormalRecipient;
    if (r.target.case === "userId") {
      const id = r.target.value;
      if (!id || id.length > LIMITS.userId || !USER_ID.test(id)) throw invalid(`${rf}.user_id`, "must be 1..64 characters of [A-Za-z0-9_.:@-]");
      k = `u:${id}`;
      n = { userId: id };
    } else if (r.target.case === "email") {
      const email = validateEmail(`${rf}.email`, r.target.value);
      k = `e:${email}`;
      n = { email };
    } else {
      throw invalid(rf, "set user_id or email");
    }
    if (!seen.has(k)) {
      seen.add(k);
      recipients.push(n);
    }
  });

  const channels = [...new Set(req.channels)];
  channels.forEach((c, i) => {
    if (!CHANNEL.test(c)) throw invalid(f(`channels[${i}]`), `"${c}" is not a channel name`);
  });
  if (req.category && !(CATEGORIES as readonly string[]).includes(req.category)) {
    throw invalid(f("category"), `must be one of ${CATEGORIES.join(", ")}`);
  }
  if (req.locale && !LOCALE.test(req.locale)) throw invalid(f("locale"), "must look like en, ru or pt-BR");
  if (req.senderId && (req.senderId.length > LIMITS.userId || !USER_ID.test(req.senderId))) {
    throw invalid(f("sender_id"), "must be 1..64 characters of [A-Za-z0-9_.:@-]");
  }
  const data = (req.data ?? {}) as JsonObject;
  const dataJson = JSON.stringify(data);
  if (Buffer.byteLength(dataJson) > LIMITS.dataBytes) throw invalid(f("data"), `larger than ${LIMITS.dataBytes} bytes as JSON`);

  let sendAfter: Date | undefined;
  if (req.sendAfter) {
    sendAfter = timestampDate(req.sendAfter);
    if (Number.isNaN(sendAfter.getTime())) throw invalid(f("send_after"), "not a valid time");
    if (sendAfter.getTime() > Date.now() + 366 * 24 * 3600_000) throw invalid(f("send_after"), "more than a year ahead");
  }
  return {
    idempotencyKey: key,
    template: req.template,
    templateVersion: req.templateVersion,
    recipients,
    channels,
    category: req.category,
    data,
    dataJson,
    sendAfter,
    locale: req.locale.replace("_", "-"),
    senderId: req.senderId,
  };
}
