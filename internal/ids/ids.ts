import { randomUUID } from "node:crypto";

/**
 * A UUIDv7: time-ordered, so InnoDB appends new rows at the end of the primary key instead of
 * splitting random pages, while staying globally unique without coordination. The random part comes
 * from randomUUID, which draws from a cached pool of entropy (a fresh randomBytes per id showed in the
 * api's profile); its variant bits already match and the version nibble is set to 7.
 */
export function newId(now = Date.now()): string {
  const t = Math.floor(now).toString(16).padStart(12, "0");
  const r = randomUUID();
  return `${t.slice(0, 8)}-${t.slice(8, 12)}-7${r.slice(15)}`;
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
