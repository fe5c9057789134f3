/**
 * Soft line breaks for quoted-printable text, line for line as nodemailer's `qp.wrap` puts them, but
 * by scanning character codes: nodemailer cuts a substring and runs up to four regular expressions per
 * output line, which made it the largest allocator of a campaign worker (about a seventh of its heap
 * allocations, for a 4 KB body). qp-wrap.test.ts checks both give the same text.
 *
 * Each line holds at most `lineLength` characters including the "=" of a soft break. A line is cut
 * after a CRLF or LF within it; else after the last blank or punctuation in its last third; else
 * before an escape that would be split, and before the bytes of a UTF-8 sequence that would be.
 */
export function wrapQuotedPrintable(str: string, lineLength = 76): string {
  const width = Math.max(Math.trunc(lineLength) || 76, 4);
  const len = str.length;
  if (len <= width) return str;
  const margin = Math.floor(width / 3);
  let result = "";
  let pos = 0;
  let crlf = -1; // the next CRLF at or after pos, searched again only once passed
  while (pos < len) {
    let end = Math.min(pos + width, len);
    if (crlf < pos) {
      const i = str.indexOf("\r\n", pos);
      crlf = i === -1 ? Infinity : i;
    }
    if (crlf + 2 <= end) {
      result += str.slice(pos, crlf + 2);
      pos = crlf + 2;
      continue;
    }
    if (str.charCodeAt(end - 1) === LF) {
      result += str.slice(pos, end);
      pos = end;
      continue;
    }
    const tail = Math.max(pos, end - margin);
    const lastBreak = lastIndexWhere(str, tail, end, isLineTerminator);
    if (lastBreak !== -1 && str.charCodeAt(lastBreak) === LF) {
      result += str.slice(pos, lastBreak + 1);
      pos = lastBreak + 1;
      continue;
    }
    const blank = end - pos > width - margin ? lastIndexWhere(str, tail, end, isBreakable) : -1;
    const escape = blank === -1 ? escapeTailLength(str, pos, end) : -1;
    if (blank !== -1) {
      end = blank + 1;
    } else if (escape >= 0) {
      // An escape cut short ("=" or "=X" at the end) moves to the next line whole.
      if (escape < 3) end -= escape;
      // So do the escaped bytes of a UTF-8 sequence: back to its lead byte, or off a run of them.
      while (end - pos > 3 && end < len && !onlyEscapes(str, pos, end) && escapeTailLength(str, pos, end) === 3) {
        const code = parseInt(str.slice(end - 2, end), 16);
        if (code < 0x80) break;
        end -= 3;
        if (code >= 0xc0) break;
      }
    }
    if (end === pos) end = Math.min(pos + width, len);
    if (end < len && str.charCodeAt(end - 1) !== LF) {
      if (end - pos === width) end -= escapeTailLength(str, pos, end) === 3 ? 3 : 1;
      result += `${str.slice(pos, end)}=\r\n`;
    } else {
      result += str.slice(pos, end);
    }
    pos = end;
  }
  return result;
}

const LF = 0x0a;

const isLineTerminator = (c: number) => c === 0x0a || c === 0x0d || c === 0x2028 || c === 0x2029;
const isBreakable = (c: number) => c === 0x20 || c === 0x09 || c === 0x2e || c === 0x2c || c === 0x21 || c === 0x3f;
const isHex = (c: number) => (c >= 0x30 && c <= 0x39) || ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66);

function lastIndexWhere(s: string, from: number, to: number, test: (c: number) => boolean): number {
  for (let i = to - 1; i >= from; i--) if (test(s.charCodeAt(i))) return i;
  return -1;
}

/** 1, 2 or 3 when s[from, to) ends with "=", "=X" or "=XX" (X a hex digit); -1 when it ends with none. */
function escapeTailLength(s: string, from: number, to: number): number {
  for (let k = 1; k <= 3 && to - k >= from; k++) {
    const c = s.charCodeAt(to - k);
    if (c === 0x3d) return k;
    if (!isHex(c)) return -1;
  }
  return -1;
}

/** Whether s[from, to) is one to four escapes and nothing else. */
function onlyEscapes(s: string, from: number, to: number): boolean {
  const n = to - from;
  if (n % 3 !== 0 || n < 3 || n > 12) return false;
  for (let i = from; i < to; i += 3) {
    if (s.charCodeAt(i) !== 0x3d || !isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false;
  }
  return true;
}
