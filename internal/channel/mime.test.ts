import { describe, expect, it } from "vitest";
import MailComposer from "nodemailer/lib/mail-composer";
import { simpleParser, type ParsedMail } from "mailparser";
import { encode as qpEncode } from "nodemailer/lib/qp";
import { hasLongerLines, isPlainText } from "nodemailer/lib/mime-funcs";
import { AddressError, createComposer, quotedPrintable, transferEncoding, type MessageParts } from "./mime.js";

const FROM = "Кинотеатр «Звезда» <no-reply@cinema.example>";

async function viaNodemailer(m: MessageParts): Promise<ParsedMail> {
  const raw = await new MailComposer({
    from: FROM,
    to: m.to,
    subject: m.subject,
    text: m.text,
    html: m.html,
    messageId: m.messageId,
    date: m.date,
    headers: m.headers,
  })
    .compile()
    .build();
  return simpleParser(raw);
}

const ours = (m: MessageParts) => simpleParser(createComposer(FROM).compose(m));

// What a reader (and a DKIM verifier, and a mail client) sees of a message.
function view(p: ParsedMail) {
  const h = (k: string) => {
    const v = p.headers.get(k);
    return v === undefined ? undefined : typeof v === "string" ? v : JSON.stringify(v);
  };
  return {
    from: p.from?.value,
    to: (Array.isArray(p.to) ? p.to[0] : p.to)?.value,
    subject: p.subject,
    text: p.text?.replace(/\n$/, ""),
    html: typeof p.html === "string" ? p.html.replace(/\n$/, "") : p.html,
    messageId: p.messageId,
    date: p.date?.toISOString(),
    listUnsubscribe: h("list-unsubscribe"),
    listUnsubscribePost: h("list-unsubscribe-post"),
    autoSubmitted: h("auto-submitted"),
  };
}

const long = "Фильм начинается в 19:30. ".repeat(40) + "x".repeat(300);
const cases: [string, MessageParts][] = [
  ["plain ASCII, both parts", { to: "a@example.test", subject: "Your tickets", text: "Hello", html: "<p>Hello</p>", messageId: "<1@cinema.example>" }],
  [
    "Cyrillic subject and bodies, long lines, dots at line starts",
    { to: "b@example.test", subject: `Премьера: ${"очень ".repeat(20)}длинный заголовок`, text: `${long}\n.\n..точка`, html: `<p>${long}</p>\n.`, messageId: "<2@cinema.example>" },
  ],
  ["text only", { to: "c@example.test", subject: "Only text", text: "line one\nline two\r\nline three", messageId: "<3@cinema.example>" }],
  ["html only, emoji", { to: "d@example.test", subject: "🎬 Tonight", html: "<b>🍿 ready</b>", messageId: "<4@cinema.example>" }],
  [
    "unsubscribe headers",
    {
      to: "e@example.test",
      subject: "Weekly picks",
      text: "t",
      html: "<p>h</p>",
      messageId: "<5@cinema.example>",
      headers: {
        "List-Unsubscribe": "<https://cinema.example/u/AbCdEfGhIjKlMnOpQrStUv>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        "Auto-Submitted": "auto-generated",
      },
    },
  ],
  ["IDN domain", { to: "f@пример.рф", subject: "IDN", text: "t", messageId: "<6@cinema.example>" }],
  [
    "plain ASCII in short lines (7bit), LF and CRLF line ends, a line that is only a dot",
    { to: "g@example.test", subject: "7bit", text: "one\ntwo\r\n.\n..four", html: "<p>\n= not an escape =3D\n</p>", messageId: "<7@cinema.example>" },
  ],
];

describe("the MIME composer", () => {
  it.each(cases)("reads back exactly like nodemailer's message: %s", async (_name, m) => {
    const parts = { ...m, date: new Date("2026-11-23T20:15:00Z") };
    const [a, b] = await Promise.all([ours(parts), viaNodemailer(parts)]);
    expect(view(a)).toEqual(view(b));
    expect(view(a).subject).toBe(m.subject);
  });

  it("keeps every line within SMTP's limit and ends lines with CRLF", () => {
    const raw = createComposer(FROM).compose({ to: "a@example.test", subject: long, text: long, html: long, messageId: "<7@cinema.example>" });
    const lines = raw.split("\r\n");
    expect(Math.max(...lines.map((l) => l.length))).toBeLessThanOrEqual(998);
    // Bodies are quoted-printable: 76 characters a line.
    const body = raw.slice(raw.indexOf("\r\n\r\n") + 4).split("\r\n");
    expect(Math.max(...body.map((l) => l.length))).toBeLessThanOrEqual(76);
    expect(raw.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
  });

  it("sends plain ASCII in short lines as it is, every line end a CRLF, text mostly in another alphabet as base64, and anything else quoted-printable", () => {
    const c = createComposer(FROM);
    const plain = c.compose({ to: "a@example.test", subject: "s", text: "one\ntwo\rthree\r\nfour = 4", messageId: "<8@cinema.example>" });
    expect(plain).toContain("Content-Transfer-Encoding: 7bit\r\n\r\none\r\ntwo\r\nthree\r\nfour = 4\r\n");
    expect(plain.replace(/\r\n/g, "")).not.toMatch(/[\r\n]/);
    const longLine = c.compose({ to: "a@example.test", subject: "s", text: "x".repeat(77), messageId: "<9@cinema.example>" });
    expect(longLine).toContain("Content-Transfer-Encoding: quoted-printable");
    const cyrillic = c.compose({ to: "a@example.test", subject: "s", text: "Привет", messageId: "<10@cinema.example>" });
    expect(cyrillic).toContain("Content-Transfer-Encoding: base64\r\n\r\n0J/RgNC40LLQtdGC\r\n");
    const mostlyLatin = c.compose({ to: "a@example.test", subject: "s", text: "Hello there, Привет", messageId: "<11@cinema.example>" });
    expect(mostlyLatin).toContain("Content-Transfer-Encoding: quoted-printable");
    // A long Russian letter: base64 lines of 76, read back whole.
    const letter = "Здравствуйте! Ваши билеты на сегодня готовы. ".repeat(40);
    const raw = c.compose({ to: "a@example.test", subject: "s", text: letter, messageId: "<12@cinema.example>" });
    const body = raw.slice(raw.indexOf("base64\r\n\r\n") + 10).split("\r\n").filter(Boolean);
    expect(body.slice(0, -1).every((l) => l.length === 76)).toBe(true);
    expect(Buffer.from(body.join(""), "base64").toString("utf8")).toBe(letter);
  });

  it("cannot be made to inject headers through the subject or an extra header", async () => {
    const raw = createComposer(FROM).compose({
      to: "a@example.test",
      subject: "hi\r\nBcc: victim@example.test",
      text: "t",
      messageId: "<8@cinema.example>",
      headers: { "X-Tag": "a\r\nBcc: victim@example.test", "Bad Name": "x", From: "evil@example.test" },
    });
    const parsed = await simpleParser(raw);
    expect(parsed.bcc).toBeUndefined();
    expect(parsed.headers.get("x-tag")).toBe("a Bcc: victim@example.test");
    expect(parsed.from?.value[0].address).toBe("no-reply@cinema.example");
  });

  it("writes quoted-printable text as nodemailer's encoder does, ASCII or not", () => {
    // Random text over the characters the ASCII path treats specially, and beyond it.
    const alphabet = ["=", " ", "\t", "\r", "\n", "\r\n", "a", "Z", "<", ">", "~", ".", "\x7f", "\x01", "é", "Ж", "😀", "\ud800", "\udc00", "—"];
    let seed = 7;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 2000; round++) {
      const ascii = round % 2 === 0;
      const pool = ascii ? alphabet.slice(0, 12) : alphabet;
      const s = Array.from({ length: rnd(60) }, () => pool[rnd(pool.length)]).join("");
      expect(quotedPrintable(s), JSON.stringify(s)).toBe(qpEncode(Buffer.from(s, "utf8")));
    }
    expect(quotedPrintable('<p style="x">a \t\r\nb =\n</p> ')).toBe('<p style=3D"x">a =09\r\nb =3D\n</p>=20');
  });

  it("chooses 7bit, base64 or quoted-printable as nodemailer does, ASCII or not", () => {
    // nodemailer: plain text in short lines as it is; base64 when Latin letters do not outnumber the rest.
    const reference = (s: string) => {
      if (isPlainText(s) && !hasLongerLines(s, 76)) return "7bit";
      let latin = 0;
      let other = 0;
      for (const ch of s) {
        const c = ch.codePointAt(0)!;
        if (c >= 0x80 || (c < 0x20 && ch !== "\t" && ch !== "\n" && ch !== "\r")) other += ch.length;
        else if (/[A-Za-z]/.test(ch)) latin++;
      }
      return other >= latin ? "base64" : "quoted-printable";
    };
    const alphabet = ["a", "Z", " ", "1", "\n", "<", "a".repeat(30), "\t", "\x01", "\x7f", "é", "Ж", "😀", "\ud800"];
    let seed = 5;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    const seen = new Set<string>();
    for (let round = 0; round < 3000; round++) {
      const pool = round % 2 === 0 ? alphabet.slice(0, 7) : alphabet;
      const s = Array.from({ length: rnd(40) }, () => pool[rnd(pool.length)]).join("");
      expect(transferEncoding(s), JSON.stringify(s)).toBe(reference(s));
      seen.add(transferEncoding(s));
    }
    expect([...seen].sort()).toEqual(["7bit", "base64", "quoted-printable"]);
    expect(transferEncoding("2026-12-07 19:30, 4 / 5!")).toBe("7bit");
    expect(transferEncoding("2026-12-07 19:30, 4 / 5!".repeat(5))).toBe("base64");
    expect(transferEncoding("<p>Hello</p>".repeat(10))).toBe("quoted-printable");
  });

  it("refuses addresses that are not a single plain mailbox", () => {
    const c = createComposer(FROM);
    for (const to of ["a@example.test, b@example.test", "Name <a@example.test>", "no-at-sign", "юзер@example.test"]) {
      expect(() => c.compose({ to, subject: "s", text: "t", messageId: "<9@cinema.example>" }), to).toThrow(AddressError);
    }
  });
});
