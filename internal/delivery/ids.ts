import { createHash } from "node:crypto";

/**
 * Delivery ids are derived from (notification, recipient, channel): a planner that runs twice for the
 * same notification computes the same ids, so its INSERT IGNORE and its publishes (msgID = id) are
 * no-ops the second time.
 */
export function deliveryId(notificationId: string, recipient: string, channel: string): string {
  const h = createHash("sha256").update(`${notificationId}\u0000${recipient}\u0000${channel}`).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString("hex");
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function recipientKey(r: { userId: string } | { email: string }): string {
  return "userId" in r ? `u:${r.userId}` : `e:${r.email}`;
}
