import type { Bus } from "../bus/nats.js";
import { storeItems, type NewInboxItem } from "../gateway/inbox-store.js";
import { createBatcher } from "../store/batcher.js";
import { frames } from "../gateway/protocol.js";
import type { Db } from "../store/db.js";
import { DeliveryError, type Channel, type ChannelDeps, type OutgoingMessage } from "./channel.js";

export interface WebsocketChannelDeps extends ChannelDeps {
  db: Db;
  bus: Pick<Bus, "nc" | "topology">;
}

/**
 * In-app notifications. The inbox row is written first (MariaDB is the record: a user who is offline
 * finds it on the next connect), then the frame goes out on the user's core-NATS subject to whichever
 * gateways hold that user's connections. The delivery is `sent` once stored; `delivered` and `read`
 * come from the clients (see internal/gateway/receipts.ts). On by default; NOTIFY_CHANNEL_WEBSOCKET_ENABLED=false
 * turns it off.
 */
export function createWebsocketChannel(d: WebsocketChannelDeps): Channel | undefined {
  if (d.settings.enabled === "false") return undefined;
  const { nc, topology } = d.bus;
  const log = d.log.child({ channel: "websocket" });
  // Concurrent deliveries share one packet: their inbox rows and their `sent` in the ledger, one
  // transaction. Recorded before the frame leaves, a client's ack never finds the delivery still sending.
  const store = createBatcher<NewInboxItem & { sentDetail: string }, Awaited<ReturnType<typeof storeItems>>[number]>({
    maxItems: 500,
    maxConcurrent: 2,
    run: (items) => storeItems(d.db, items, (it) => it.sentDetail),
  });
  return {
    name: "websocket",
    takesBareAddress: false,
    address: (r) => r.userId || undefined,
    async send(m: OutgoingMessage) {
      const userId = m.recipient.userId;
      if (!userId) throw new DeliveryError("in-app notifications need a user recipient", false, "no_address");
      const { item, fresh } = await store({
        id: m.deliveryId,
        notificationId: m.notificationId,
        userId,
        category: m.category,
        senderId: m.senderId ?? "",
        template: m.templateKey ?? "",
        title: (m.parts.title ?? "").slice(0, 1000),
        body: m.parts.body ?? "",
        sentDetail: m.sentDetail,
      });
      // A retried delivery publishes again unless the user already read it; clients drop ids they have.
      if (fresh || !item.readAt) nc.publish(topology.subjects.wsUser(userId), frames.notification(item));
      m.log.debug({ fresh }, "in-app notification stored and published");
      return { messageId: `inbox:${item.seq}`, recorded: true };
    },
    status: () => ({ nats: nc.isClosed() ? "closed" : "up" }),
    async close() {},
  };
}
