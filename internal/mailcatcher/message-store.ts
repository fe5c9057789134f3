import type { AddressObject, ParsedMail } from "mailparser";

/** A caught mail as the JSON API shows it. */
export interface CaughtMessage {
  id: string;
  /** Message-ID header as sent, angle brackets included, or "" when absent. */
  messageId: string;
  /** From header as text, e.g. `"Cinema" <noreply@cinema.test>`. */
  from: string;
  /** Addresses of the To header (the envelope recipients when there is no To header). */
  to: string[];
  cc: string[];
  subject: string;
  text: string | null;
  html: string | null;
  /**
   * Header name (lower case) -> raw value, unfolded; repeated headers (Received...) are joined with "\n".
   * Encoded words are left as sent.
   */
  headers: Record<string, string>;
  /** Date header (ISO 8601), or the receive time when the header is missing or invalid. */
  date: string;
  receivedAt: string;
  envelope: { from: string; to: string[] };
  attachments: Array<{ filename: string; contentType: string; size: number }>;
  /** Size of the raw source in bytes. */
  size: number;
}

export interface Envelope {
  from: string;
  to: string[];
}

function addresses(v: AddressObject | AddressObject[] | undefined): string[] {
  if (!v) return [];
  const list = Array.isArray(v) ? v : [v];
  const out: string[] = [];
  const walk = (items: AddressObject["value"]) => {
    for (const a of items) {
      if (a.address) out.push(a.address);
      if (a.group) walk(a.group);
    }
  };
  for (const obj of list) walk(obj.value);
  return out;
}

function headerObject(lines: ParsedMail["headerLines"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { key, line } of lines) {
    const colon = line.indexOf(":");
    // Unfolding per RFC 5322 removes the line breaks only, keeping the whitespace after them.
    const value = line.slice(colon + 1).replace(/\r?\n(?=[ \t])/g, "").trim();
    out[key] = key in out ? `${out[key]}\n${value}` : value;
  }
  return out;
}

export function toCaughtMessage(
  id: string,
  parsed: ParsedMail,
  raw: Buffer,
  envelope: Envelope,
  receivedAt: Date,
): CaughtMessage {
  const to = addresses(parsed.to);
  const date = parsed.date && !Number.isNaN(parsed.date.getTime()) ? parsed.date : receivedAt;
  return {
    id,
    messageId: parsed.messageId ?? "",
    from: parsed.from?.text ?? envelope.from,
    to: to.length ? to : envelope.to,
    cc: addresses(parsed.cc),
    subject: parsed.subject ?? "",
    text: parsed.text ?? null,
    html: typeof parsed.html === "string" ? parsed.html : null,
    headers: headerObject(parsed.headerLines),
    date: date.toISOString(),
    receivedAt: receivedAt.toISOString(),
    envelope,
    attachments: parsed.attachments.map((a) => ({
      filename: a.filename ?? "",
      contentType: a.contentType,
      size: a.size,
    })),
    size: raw.length,
  };
}

export interface MessageStore {
  add(msg: CaughtMessage, raw: Buffer): void;
  /** Newest first. */
  list(): CaughtMessage[];
  get(id: string): CaughtMessage | undefined;
  raw(id: string): Buffer | undefined;
  remove(id: string): boolean;
  clear(): void;
  nextId(): string;
}

/** Keeps the newest `max` messages in memory; older ones are dropped as new ones arrive. */
export function createMessageStore(max: number): MessageStore {
  if (!Number.isInteger(max) || max < 1) throw new Error(`max must be a positive integer, got ${max}`);
  // Insertion order is arrival order, so the first key is always the oldest.
  const items = new Map<string, { msg: CaughtMessage; raw: Buffer }>();
  // Ids keep growing across clear(), so a stale link never shows a different mail.
  let seq = 0;
  return {
    nextId: () => String(++seq),
    add(msg, raw) {
      items.set(msg.id, { msg, raw });
      while (items.size > max) items.delete(items.keys().next().value as string);
    },
    list: () => [...items.values()].map((x) => x.msg).reverse(),
    get: (id) => items.get(id)?.msg,
    raw: (id) => items.get(id)?.raw,
    remove: (id) => items.delete(id),
    clear: () => items.clear(),
  };
}
