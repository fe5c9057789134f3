import type { DeliveryError } from "../channel/channel.js";
import { toDate, type Db } from "../store/db.js";
import { ANY } from "./rules.js";
import { createBatcher } from "../store/batcher.js";

export const SUPPRESSION_REASONS = ["hard_bounce", "complaint", "unsubscribe", "manual"] as const;
export type SuppressionReason = (typeof SUPPRESSION_REASONS)[number];

export interface Suppression {
  id: number;
  address: string;
  /** "*" or one category. */
  scope: string;
  reason: string;
  detail: string;
  createdAt: Date;
}

const normal = (address: string) => address.trim().toLowerCase();

/** The addresses among `addresses` that must not get mail of `category`. */
export async function suppressedAmong(db: Db, addresses: readonly string[], category: string): Promise<Set<string>> {
  const out = new Set<string>();
  const list = [...new Set(addresses.map(normal))];
  for (let i = 0; i < list.length; i += 1000) {
    const [rows] = (await db.query("SELECT address FROM suppressions WHERE address IN (?) AND scope IN (?, ?)", [
      list.slice(i, i + 1000),
      ANY,
      category,
    ])) as unknown as [{ address: string }[]];
    for (const r of rows) out.add(r.address);
  }
  return out;
}

export async function isSuppressed(db: Db, address: string, category: string): Promise<boolean> {
  return (await areSuppressed(db, [{ address, category }]))[0];
}

/** For each (address, category), whether mail of that category must not go there; one query for all. */
export async function areSuppressed(db: Db, asks: readonly { address: string; category: string }[]): Promise<boolean[]> {
  const [rows] = (await db.query("SELECT address, scope FROM suppressions WHERE address IN (?)", [
    [...new Set(asks.map((a) => normal(a.address)))],
  ])) as unknown as [{ address: string; scope: string }[]];
  const scopes = new Map<string, Set<string>>();
  for (const r of rows) scopes.set(r.address, (scopes.get(r.address) ?? new Set()).add(r.scope));
  return asks.map((a) => {
    const s = scopes.get(normal(a.address));
    return s !== undefined && (s.has(ANY) || s.has(a.category));
  });
}

/** areSuppressed for one (address, category) at a time: the asks of concurrent callers share one query. */
export function createSuppressionLookup(db: Db): (ask: { address: string; category: string }) => Promise<boolean> {
  return createBatcher<{ address: string; category: string }, boolean>({ maxItems: 500, maxConcurrent: 2, run: (asks) => areSuppressed(db, asks) });
}

/** Adds a suppression; an address already suppressed in that scope keeps its first reason. */
export async function addSuppression(
  db: Db,
  s: { address: string; scope?: string; reason: SuppressionReason; detail?: string },
): Promise<Suppression> {
  const address = normal(s.address);
  const scope = s.scope || ANY;
  await db.execute("INSERT IGNORE INTO suppressions (address, scope, reason, detail) VALUES (?, ?, ?, ?)", [
    address,
    scope,
    s.reason,
    (s.detail ?? "").slice(0, 1000),
  ]);
  const [rows] = (await db.execute("SELECT * FROM suppressions WHERE address = ? AND scope = ?", [address, scope])) as unknown as [
    SuppressionRow[],
  ];
  return fromRow(rows[0]);
}

/** Removes the address's suppression in one scope, or in every scope; returns how many went. */
export async function liftSuppression(db: Db, address: string, scope?: string): Promise<number> {
  const [r] = (await (scope
    ? db.execute("DELETE FROM suppressions WHERE address = ? AND scope = ?", [normal(address), scope])
    : db.execute("DELETE FROM suppressions WHERE address = ?", [normal(address)]))) as unknown as [{ affectedRows: number }];
  return r.affectedRows;
}

/** Newest first; `beforeId` continues after the last row of the previous page. */
export async function listSuppressions(
  db: Db,
  o: { query?: string; limit: number; beforeId?: number },
): Promise<{ items: Suppression[]; more: boolean }> {
  const where: string[] = [];
  const args: unknown[] = [];
  if (o.query) {
    where.push("address LIKE ?");
    args.push(`%${o.query.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
  }
  if (o.beforeId) {
    where.push("id < ?");
    args.push(o.beforeId);
  }
  const [rows] = (await db.query(
    `SELECT * FROM suppressions ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY id DESC LIMIT ?`,
    [...args, o.limit + 1],
  )) as unknown as [SuppressionRow[]];
  return { items: rows.slice(0, o.limit).map(fromRow), more: rows.length > o.limit };
}

interface SuppressionRow {
  id: number;
  address: string;
  scope: string;
  reason: string;
  detail: string;
  created_at: Date | string;
}

function fromRow(r: SuppressionRow): Suppression {
  return { id: Number(r.id), address: r.address, scope: r.scope, reason: r.reason, detail: r.detail, createdAt: toDate(r.created_at)! };
}

// Answers that say the mailbox itself does not exist or never takes mail: 550/551/553 to RCPT TO
// (RFC 5321), or an enhanced 5.1.x status (RFC 3463) at any stage. Other 5xx (552 mailbox full,
// 554 or 5.7.x content refused) fail the one message but say nothing lasting about the address.
const MAILBOX_CODES = /\bsmtp (550|551|553)\b/;
const ENHANCED_MAILBOX = /\b5\.1\.\d{1,3}\b/;

/**
 * Whether a permanent channel failure is a hard bounce of the address. The email channel reports a
 * refusal at RCPT TO as "recipient_rejected" and other 5xx as "smtp_rejected".
 */
export function isHardBounce(err: DeliveryError): boolean {
  if (err.transient) return false;
  if (err.reason === "recipient_rejected") return MAILBOX_CODES.test(err.message) || ENHANCED_MAILBOX.test(err.message);
  if (err.reason === "smtp_rejected") return ENHANCED_MAILBOX.test(err.message);
  return false;
}
