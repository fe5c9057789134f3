import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  DeliveryEventSchema,
  DeliverySchema,
  NotificationSchema,
  NotificationService,
  type DeliveryStatus,
  type NotificationStatus,
} from "../../gen/notify/v1/notification_service_pb.js";
import { callerName } from "../auth/interceptor.js";
import type { Db } from "../store/db.js";
import { isId } from "../ids/ids.js";
import type { Acceptor } from "./accept.js";
import { getDeliveries, getEvents, getNotification, listUserDeliveries, type DeliveryRow } from "./queries.js";
import { invalid, LIMITS, normalizeSend } from "./validate.js";

export interface NotificationServiceDeps {
  db: Db;
  accept: Acceptor;
}

/** Connect handlers: thin, they validate shape and call the acceptor or the ledger queries. */
export function createNotificationService(deps: NotificationServiceDeps): ServiceImpl<typeof NotificationService> {
  const toResponse = (a: { notificationId: string; duplicate: boolean; acceptedAt: Date }) => ({
    notificationId: a.notificationId,
    duplicate: a.duplicate,
    acceptedAt: timestampFromDate(a.acceptedAt),
  });
  return {
    async send(req, ctx) {
      const [a] = await deps.accept(callerName(ctx), [normalizeSend(req)], [""]);
      return toResponse(a);
    },
    async sendBatch(req, ctx) {
      if (req.items.length === 0) throw invalid("items", "at least one item is required");
      if (req.items.length > LIMITS.batchItems) throw invalid("items", `at most ${LIMITS.batchItems} items per batch`);
      const prefixes = req.items.map((_, i) => `items[${i}].`);
      const normal = req.items.map((it, i) => normalizeSend(it, prefixes[i]));
      const out = await deps.accept(callerName(ctx), normal, prefixes);
      return { results: out.map(toResponse) };
    },
    async get(req) {
      if (!isId(req.notificationId)) throw invalid("notification_id", "not a notification id");
      const n = await getNotification(deps.db, req.notificationId);
      if (!n) throw new ConnectError(`notification ${req.notificationId} not found`, Code.NotFound);
      const ds = await getDeliveries(deps.db, n.id);
      const events = await getEvents(deps.db, ds.map((d) => d.id));
      return {
        notification: create(NotificationSchema, {
          id: n.id,
          idempotencyKey: n.idempotency_key,
          template: n.template_key,
          templateVersion: n.template_version,
          category: n.category,
          channels: n.channels ? n.channels.split(",") : [],
          status: n.status as NotificationStatus,
          recipientCount: n.recipient_count,
          createdAt: timestampFromDate(n.created_at),
          sendAfter: n.send_after ? timestampFromDate(n.send_after) : undefined,
          source: n.source,
        }),
        deliveries: ds.map((d) =>
          toDelivery(
            { ...d, template_key: n.template_key },
            events.filter((e) => e.delivery_id === d.id),
          ),
        ),
      };
    },
    async listByUser(req) {
      if (!req.userId) throw invalid("user_id", "required");
      const size = req.pageSize === 0 ? 50 : req.pageSize;
      if (size > 500) throw invalid("page_size", "at most 500");
      let after: { at: Date; id: string } | undefined;
      if (req.pageToken) {
        try {
          const [at, id] = JSON.parse(Buffer.from(req.pageToken, "base64url").toString());
          after = { at: new Date(at), id: String(id) };
          if (Number.isNaN(after.at.getTime())) throw new Error();
        } catch {
          throw invalid("page_token", "malformed page token");
        }
      }
      const rows = await listUserDeliveries(deps.db, req.userId, size + 1, after, req.channel || undefined);
      const page = rows.slice(0, size);
      const last = page[page.length - 1];
      return {
        deliveries: page.map((d) => toDelivery(d, [])),
        nextPageToken:
          rows.length > size && last
            ? Buffer.from(JSON.stringify([last.created_at.toISOString(), last.id])).toString("base64url")
            : "",
      };
    },
  };
}

export function toDelivery(d: DeliveryRow, events: { at: Date; status: number; detail: string }[]) {
  return create(DeliverySchema, {
    id: d.id,
    notificationId: d.notification_id,
    userId: d.user_id,
    channel: d.channel,
    status: d.status as DeliveryStatus,
    attempts: d.attempts,
    lastError: d.last_error,
    messageId: d.message_id,
    createdAt: timestampFromDate(d.created_at),
    updatedAt: timestampFromDate(d.updated_at),
    template: d.template_key ?? "",
    events: events.map((e) =>
      create(DeliveryEventSchema, { at: timestampFromDate(e.at), status: e.status as DeliveryStatus, detail: e.detail }),
    ),
  });
}
