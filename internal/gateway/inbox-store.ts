import type { Db } from "../store/db.js";
import { toDate, withTx } from "../store/db.js";
import { sentStatements } from "../delivery/ledger.js";

/** One in-app notification as stored; `id` is the id of its websocket delivery. */
export interface InboxItem {
  seq: number;
  id: string;
  notificationId: string;
  userId: string;
  category: string;
  senderId: string;
  template: string;
  title: string;
  body: string;
  createdAt: Date;
  deliveredAt?: Date;
  readAt?: Date;
}

export type NewInboxItem = Omit<InboxItem, "seq" | "createdAt" | "deliveredAt" | "readAt">;

interface Row {
  seq: number;
  delivery_id: string;
  notification_id: string;
  user_id: string;
  category: string;
  sender_id: string;
  template_key: string;
  title: string;
  body: string;
  created_at: Date | string;
  delivered_at: Date | string | null;
  read_at: Date | string | null;
}

const COLUMNS =
  "seq, delivery_id, notification_id, user_id, category, sender_id, template_key, title, body, created_at, delivered_at, read_at";

function fromRow(r: Row): InboxItem {
  return {
    seq: Number(r.seq),
    id: r.delivery_id,
    notificationId: r.notification_id,
    userId: r.user_id,
    category: r.category,
    senderId: r.sender_id,
    template: r.template_key,
    title: r.title,
    body: r.body,
    createdAt: toDate(r.created_at)!,
    deliveredAt: r.delivered_at ? toDate(r.delivered_at) : undefined,
    readAt: r.read_at ? toDate(r.read_at) : undefined,
  };
}

/** The in-app delivery's message id, in SQL over its deliveries row: its inbox row's seq. */
const INBOX_MESSAGE_ID = "(SELECT CONCAT('inbox:', i.seq) FROM inbox i WHERE i.delivery_id = deliveries.id)";

/**
 * Stores each item once per delivery, all in one INSERT (with `sent`, the history's detail for each,
 * their deliveries are recorded as sent in the same transaction): a redelivered message finds its row and gets
 * it back (fresh: false), so the caller can publish it again without a second inbox entry. RETURNING
 * names the rows this statement created; the others are read back.
 */
export async function storeItems<I extends NewInboxItem>(db: Db, items: readonly I[], sent?: (it: I) => string): Promise<{ item: InboxItem; fresh: boolean }[]> {
  const now = new Date();
  const insert = `INSERT IGNORE INTO inbox (delivery_id, notification_id, user_id, category, sender_id, template_key, title, body, created_at)
     VALUES ? RETURNING seq, delivery_id`;
  const values = [items.map((it) => [it.id, it.notificationId, it.userId, it.category, it.senderId, it.template, it.title, it.body, now])];
  let created: { seq: number; delivery_id: string }[];
  if (sent) {
    // The deliveries are recorded as sent in the same transaction and packet as their inbox rows.
    const once = [...new Map(items.map((it) => [it.id, { id: it.id, messageId: "", detail: sent(it) }])).values()];
    const w = sentStatements(once, INBOX_MESSAGE_ID);
    const [[rows]] = (await withTx(db, (c) => c.commitWith(`${insert}; ${w.sql}`, [...values, ...w.values]))) as unknown as [
      [{ seq: number; delivery_id: string }[]],
    ];
    created = rows;
  } else {
    [created] = (await db.query(insert, values)) as unknown as [{ seq: number; delivery_id: string }[]];
  }
  const seqOf = new Map(created.map((r) => [r.delivery_id, Number(r.seq)]));
  const others = items.filter((it) => !seqOf.has(it.id)).map((it) => it.id);
  const existing = new Map<string, InboxItem>();
  if (others.length > 0) {
    const [rows] = (await db.query(`SELECT ${COLUMNS} FROM inbox WHERE delivery_id IN (?)`, [others])) as unknown as [Row[]];
    for (const r of rows) existing.set(r.delivery_id, fromRow(r));
  }
  // The same delivery twice in one batch: the first copy created the row, the second finds it.
  const claimed = new Set<string>();
  return items.map((it) => {
    const seq = seqOf.get(it.id);
    if (seq !== undefined && !claimed.has(it.id)) {
      claimed.add(it.id);
      return { item: { ...it, seq, createdAt: now }, fresh: true };
    }
    const found = existing.get(it.id) ?? (seq !== undefined ? { ...it, seq, createdAt: now } : undefined);
    if (!found) throw new Error(`inbox row of delivery ${it.id} vanished while it was stored`);
    return { item: found, fresh: false };
  });
}

export interface ListOptions {
  limit: number;
  /** Items older than this seq (the page token). */
  beforeSeq?: number;
  unreadOnly?: boolean;
}

/** Newest first. */
export async function listItems(db: Db, userId: string, o: ListOptions): Promise<InboxItem[]> {
  const where = ["user_id = ?"];
  const args: unknown[] = [userId];
  if (o.unreadOnly) where.push("read_at IS NULL");
  if (o.beforeSeq) {
    where.push("seq < ?");
    args.push(o.beforeSeq);
  }
  // LIMIT goes in as a literal: it is a validated integer, and prepared LIMIT placeholders are fragile in mysql2.
  const limit = Math.max(1, Math.min(500, Math.floor(o.limit)));
  const [rows] = (await db.query(`SELECT ${COLUMNS} FROM inbox WHERE ${where.join(" AND ")} ORDER BY seq DESC LIMIT ${limit}`, args)) as unknown as [
    Row[],
  ];
  return rows.map(fromRow);
}

export async function unreadCount(db: Db, userId: string): Promise<number> {
  const [rows] = (await db.execute("SELECT COUNT(*) AS n FROM inbox WHERE user_id = ? AND read_at IS NULL", [userId])) as unknown as [
    { n: number }[],
  ];
  return Number(rows[0].n);
}
