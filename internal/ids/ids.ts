import { randomBytes } from "node:crypto";

/**
 * A UUIDv7: time-ordered, so InnoDB appends new rows at the end of the primary key instead of
 * splitting random pages, while staying globally unique without coordination.
 */
export function newId(now = Date.now()): string {
  const b = randomBytes(16);
  b[0] = (now / 2 ** 40) & 0xff;
  b[1] = (now / 2 ** 32) & 0xff;
  b[2] = (now >>> 24) & 0xff;
  b[3] = (now >>> 16) & 0xff;
  b[4] = (now >>> 8) & 0xff;
  b[5] = now & 0xff;
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isId(s: string): boolean {
  return UUID_RE.test(s);
}

/** When a UUIDv7 was made (ms since the epoch), or undefined for other ids. */
export function idTime(id: string): number | undefined {
  if (!UUID_RE.test(id) || id[14] !== "7") return undefined;
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}
