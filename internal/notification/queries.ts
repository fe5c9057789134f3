import type { Db } from "../store/db.js";

export interface NotificationRow {
  id: string;
  source: string;
  idempotency_key: string;
  payload_hash: string;
  template_key: string;
  template_version: number;
  template_version_id: number;
  category: string;
  channels: string;
  locale: string;
  sender_id: string;
  campaign_id: number | null;
  data: string;
  recipients: string;
  recipient_count: number;
  status: number;
  send_after: Date | null;
  created_at: Date;
}

export interface DeliveryRow {
  id: string;
  notification_id: string;
  recipient: string;
  user_id: string;
  channel: string;
  status: number;
  attempts: number;
  last_error: string;
  message_id: string;
  created_at: Date;
  updated_at: Date;
  template_key?: string;
}

export interface DeliveryEventRow {
  delivery_id: string;
  at: Date;
  status: number;
  detail: string;
}

export async function getNotification(db: Db, id: string): Promise<NotificationRow | undefined> {
  const [rows] = (await db.execute("SELECT * FROM notifications WHERE id = ?", [id])) as unknown as [NotificationRow[]];
  return rows[0];
}

export async function getDeliveries(db: Db, notificationId: string): Promise<DeliveryRow[]> {
  const [rows] = (await db.execute(
    "SELECT * FROM deliveries WHERE notification_id = ? ORDER BY recipient, channel",
    [notificationId],
  )) as unknown as [DeliveryRow[]];
  return rows;
}

export async function getEvents(db: Db, deliveryIds: string[]): Promise<DeliveryEventRow[]> {
  if (deliveryIds.length === 0) return [];
  const [rows] = (await db.query(
    "SELECT delivery_id, at, status, detail FROM delivery_events WHERE delivery_id IN (?) ORDER BY id",
    [deliveryIds],
  )) as unknown as [DeliveryEventRow[]];
  return rows;
}

/** Keyset page over a user's deliveries, newest first; the cursor is (created_at, id). */
export async function listUserDeliveries(
  db: Db,
  userId: string,
  limit: number,
  after?: { at: Date; id: string },
  channel?: string,
): Promise<DeliveryRow[]> {
  const where = ["d.user_id = ?"];
  const args: unknown[] = [userId];
  if (channel) {
    where.push("d.channel = ?");
    args.push(channel);
  }
  if (after) {
    where.push("(d.created_at < ? OR (d.created_at = ? AND d.id < ?))");
    args.push(after.at, after.at, after.id);
  }
  args.push(limit);
  const [rows] = (await db.query(
    `SELECT d.*, n.template_key FROM deliveries d JOIN notifications n ON n.id = d.notification_id
     WHERE ${where.join(" AND ")} ORDER BY d.created_at DESC, d.id DESC LIMIT ?`,
    args,
  )) as unknown as [DeliveryRow[]];
  return rows;
}
