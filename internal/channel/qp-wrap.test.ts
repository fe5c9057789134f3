import { describe, expect, it } from "vitest";
import { wrap as qpWrap } from "nodemailer/lib/qp";
import { quotedPrintable } from "./mime.js";
import { wrapQuotedPrintable } from "./qp-wrap.js";

describe("wrapQuotedPrintable", () => {
  it("breaks lines where nodemailer's qp.wrap does, on random quoted-printable text", () => {
    // Words, blanks and punctuation (the preferred breaks), line ends of both kinds, "=" and the
    // escapes of multi-byte UTF-8 (which must not be split), in runs long enough to need wrapping.
    const pieces = ["word", "a", "longerwordwithoutbreaks", " ", "\t", ".", ",", "!", "?", "=", "\r\n", "\n", "\r", "é", "Жук", "😀", "<p>", "\u2028", "\x7f", "=="];
    let seed = 11;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    let compared = 0;
    for (let round = 0; round < 3000; round++) {
      const text = Array.from({ length: rnd(120) }, () => pieces[rnd(pieces.length)]).join("");
      const encoded = quotedPrintable(text);
      for (const width of [76, 20, 7]) {
        expect(wrapQuotedPrintable(encoded, width), `${width} ${JSON.stringify(encoded)}`).toBe(qpWrap(encoded, width));
        compared++;
      }
      // Raw strings too, whatever the encoder would give: the rules are about characters, not encoding.
      expect(wrapQuotedPrintable(text, 30), JSON.stringify(text)).toBe(qpWrap(text, 30));
    }
    expect(compared).toBe(9000);
  });

  it("keeps escapes and UTF-8 sequences whole, and lines within the width", () => {
    const out = wrapQuotedPrintable(quotedPrintable("Ж".repeat(100)), 76);
    const lines = out.split("\r\n");
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) {
      expect(line.length).toBeLessThanOrEqual(76);
      // Every line but the last ends in a soft break after a whole two-byte letter (=D0=96).
      expect(line.replace(/=$/, "")).toMatch(/^(=D0=96)+$/);
    }
    expect(wrapQuotedPrintable("short", 76)).toBe("short");
  });
});
