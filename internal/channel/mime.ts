import { randomBytes } from "node:crypto";
import { domainToASCII } from "node:url";
import addressparser from "nodemailer/lib/addressparser";
import { encodeWords, foldLines, quoteString } from "nodemailer/lib/mime-funcs";
import { wrapQuotedPrintable } from "./qp-wrap.js";

export interface MessageParts {
  to: string;
  subject: string;
  text?: string;
  html?: string;
  messageId: string;
  date?: Date;
  /** Extra headers (List-Unsubscribe, Auto-Submitted...): ASCII names, any values. */
  headers?: Record<string, string>;
}

export interface Composer {
  /** The envelope sender: the address of `from`. */
  readonly envelopeFrom: string;
  compose(m: MessageParts): string;
}

const HEADER_NAME = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
// Headers the composer writes itself; a caller's copy would make a second, conflicting one.
const OWN = new Set(["from", "to", "subject", "message-id", "date", "mime-version", "content-type", "content-transfer-encoding"]);
const ASCII = /^[\x20-\x7e]*$/;

export class AddressError extends Error {}

/**
 * Builds the MIME text of an email by string assembly: the parts that never change for a sender
 * (From, the multipart boundary, the part headers) are prepared once, and each message only fills in
 * its recipient, subject, ids and the quoted-printable bodies. Building the same message through
 * nodemailer's composer costs several times the CPU (a tree of MIME nodes and a chain of streams per
 * message); test/mime.test.ts checks with mailparser that both read back the same.
 */
export function createComposer(from: string): Composer {
  const parsed = addressparser(from, { flatten: true })[0] as { name: string; address: string } | undefined;
  if (!parsed?.address) throw new AddressError(`from: no address in "${from}"`);
  const envelopeFrom = asciiAddress(parsed.address);
  const fromHeader = fold("From", parsed.name ? `${displayName(parsed.name)} <${envelopeFrom}>` : envelopeFrom);
  const boundary = `--_cinema_${randomBytes(12).toString("hex")}`;
  const partHead = (type: string, encoding: string) => `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: ${encoding}\r\n\r\n`;
  const heads = {
    text: { qp: partHead("text/plain", "quoted-printable"), b64: partHead("text/plain", "base64"), plain: partHead("text/plain", "7bit") },
    html: { qp: partHead("text/html", "quoted-printable"), b64: partHead("text/html", "base64"), plain: partHead("text/html", "7bit") },
  };
  const alternative = `MIME-Version: 1.0\r\nContent-Type: multipart/alternative;\r\n boundary="${boundary}"\r\n\r\n`;
  // As nodemailer decides: text that is plain ASCII in short lines goes as it is (7bit), which spares
  // encoding every byte; text mostly in another alphabet (a Russian letter) goes as base64, a third
  // the size of its quoted-printable; anything else is quoted-printable.
  const part = (kind: keyof typeof heads, s: string) => {
    const how = transferEncoding(s);
    if (how === "7bit") return heads[kind].plain + s.replace(/\r\n|\r|\n/g, "\r\n");
    if (how === "base64") return heads[kind].b64 + base64Lines(s);
    return heads[kind].qp + wrapQuotedPrintable(quotedPrintable(s), 76);
  };

  return {
    envelopeFrom,
    compose(m) {
      let head = fromHeader + fold("To", asciiAddress(m.to)) + fold("Subject", headerValue(m.subject.replace(/[\r\n]+/g, " ")));
      head += `Message-ID: ${m.messageId}\r\nDate: ${rfc2822(m.date ?? new Date())}\r\n`;
      for (const [name, value] of Object.entries(m.headers ?? {})) {
        if (!HEADER_NAME.test(name) || OWN.has(name.toLowerCase())) continue;
        head += fold(name, headerValue(value.replace(/[\r\n]+/g, " ")));
      }
      const text = m.text ?? "";
      const html = m.html ?? "";
      if (text && html) {
        return `${head}${alternative}--${boundary}\r\n${part("text", text)}\r\n--${boundary}\r\n${part("html", html)}\r\n--${boundary}--\r\n`;
      }
      return `${head}MIME-Version: 1.0\r\n${html ? part("html", html) : part("text", text)}\r\n`;
    },
  };
}

// nodemailer's hasLongerLines(76), as a constant: it builds the expression per call.
const LONG_LINE = /^.{77,}/m;
// What nodemailer's encoder escapes: anything outside the literal ranges of RFC 2045 (tab, CR, LF and
// printable ASCII), a blank before a line end, and "=" (replaced apart, by a plain string). Non-ASCII
// goes by runs, each written as UTF-8 at once, so a surrogate pair stays whole and a lone surrogate
// becomes EF BF BD as in Buffer.
const QP_ESCAPES = /[ \t](?=[\r\n]|$)|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\u0080-\uffff]+/g;
const EQUALS = /=/g;
// Characters nodemailer's rules count as "other" (base64) or as not plain text (isPlainText): control
// characters but tab, CR and LF, and non-ASCII.
const OTHER = /[\x00-\x08\x0b\x0c\x0e-\x1f\u0080-\uffff]/g;

const qpEscape = (run: string) => {
  let out = "";
  for (let i = 0; i < run.length; i++) {
    const c = run.charCodeAt(i);
    const pair = c >= 0xd800 && c <= 0xdbff && i + 1 < run.length && (run.charCodeAt(i + 1) & 0xfc00) === 0xdc00;
    out += pair ? utf8Escaped(run.slice(i, ++i + 1)) : unitEscaped(c);
  }
  return out;
};
// A character's escape is made once (Cyrillic text repeats a few dozen letters); at most one entry per
// UTF-16 code unit, so the map cannot outgrow 64k short strings. A lone surrogate is written as U+FFFD,
// as Buffer does.
const unitEscapes = new Map<number, string>();
const unitEscaped = (c: number) => {
  let e = unitEscapes.get(c);
  if (e === undefined) unitEscapes.set(c, (e = utf8Escaped(String.fromCharCode(c))));
  return e;
};
const utf8Escaped = (s: string) => {
  let out = "";
  for (const b of Buffer.from(s, "utf8")) out += `=${HEX[b]}`;
  return out;
};
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).toUpperCase().padStart(2, "0"));

/**
 * Quoted-printable text, as nodemailer's encoder writes it, by one `replace` of the characters that
 * need escaping instead of its pass over every byte of the UTF-8 buffer (template HTML is printable
 * ASCII in long lines, with perhaps a "©" or a dash in its footer: a few matches in 5 KB). mime.test.ts
 * checks both give the same text on random strings, ASCII or not.
 */
export function quotedPrintable(s: string): string {
  return s.replace(EQUALS, "=3D").replace(QP_ESCAPES, qpEscape);
}

/**
 * How nodemailer would send a text part: as it is (7bit) when it is plain ASCII (no control characters
 * but tab, CR and LF) in lines of at most 76; as base64 when it has no more Latin letters than other
 * characters (control and non-ASCII: a Russian letter); else quoted-printable. The others are counted
 * by one regular expression (the templates' HTML has a few, a "©" in the footer), letters only until
 * they outnumber them: no pass over every character in JavaScript (that was 1% of a worker's CPU).
 */
export function transferEncoding(s: string): "7bit" | "base64" | "quoted-printable" {
  let other = 0;
  OTHER.lastIndex = 0;
  // At least half the text: the letters cannot outnumber them.
  while (OTHER.test(s)) if (++other * 2 >= s.length) return "base64";
  if (other === 0 && !LONG_LINE.test(s)) return "7bit";
  let latin = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (c >= 0x61 && c <= 0x7a && ++latin > other) return "quoted-printable";
  }
  return "base64";
}

/** UTF-8 text in base64, 76 characters a line. */
function base64Lines(s: string): string {
  const b = Buffer.from(s, "utf8").toString("base64");
  let out = "";
  for (let i = 0; i < b.length; i += 76) out += i === 0 ? b.slice(0, 76) : `\r\n${b.slice(i, i + 76)}`;
  return out;
}

function fold(name: string, value: string): string {
  const line = `${name}: ${value}`;
  return line.length <= 76 ? `${line}\r\n` : `${foldLines(line, 76)}\r\n`;
}

function headerValue(v: string): string {
  return ASCII.test(v) ? v : encodeWords(v, "Q", 52);
}

function displayName(name: string): string {
  if (!ASCII.test(name)) return encodeWords(name, "Q", 52);
  return /^[\w ]*$/.test(name) ? name : quoteString(name);
}

/** An address as it may stand in a header and the envelope: ASCII, IDN domains in punycode. */
function asciiAddress(address: string): string {
  const a = address.trim();
  const at = a.lastIndexOf("@");
  if (at < 1 || /[\s<>,;:"()[\]\\]/.test(a)) throw new AddressError(`not a plain mailbox address: "${a}"`);
  const local = a.slice(0, at);
  const domain = domainToASCII(a.slice(at + 1));
  if (!domain || !ASCII.test(local)) throw new AddressError(`address cannot be sent without SMTPUTF8: "${a}"`);
  return `${local}@${domain}`;
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number) => String(n).padStart(2, "0");

function rfc2822(d: Date): string {
  return `${DAYS[d.getUTCDay()]}, ${two(d.getUTCDate())} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}
