import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { AdminServiceSearchDeliveriesResponseSchema } from "../../gen/notify/v1/admin_service_pb.js";
import { isId } from "../ids/ids.js";
import { getDeliveries, getNotification, listUserDeliveries, type DeliveryRow } from "../notification/queries.js";
import { toDelivery } from "../notification/service.js";
import type { Db } from "../store/db.js";

type Result = MessageInitShape<typeof AdminServiceSearchDeliveriesResponseSchema>;
export type DeliverySearch = (query: string, size: number, pageToken: string) => Promise<Result>;

type Cursor = { at: Date; id: string };

// The same keyset token as NotificationService.ListByUser: base64url of [created_at, id].
function decodeCursor(token: string): Cursor | undefined {
  if (!token) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(token, "base64url").toString());
    const c = { at: new Date(at), id: String(id) };
    if (Number.isNaN(c.at.getTime())) throw new Error("bad time");
    return c;
  } catch {
    throw new ConnectError("page_token: malformed page token", Code.InvalidArgument);
  }
}

function page(rows: DeliveryRow[], size: number, matchedAs: string): Result {
  const shown = rows.slice(0, size);
  const last = shown[shown.length - 1];
  return {
    matchedAs,
    deliveries: shown.map((d) => toDelivery(d, [])),
    nextPageToken:
      rows.length > size && last ? Buffer.from(JSON.stringify([last.created_at.toISOString(), last.id])).toString("base64url") : "",
  };
}

/** Mail to a bare address is stored with recipient 'e:<address>' (lower-case). */
async function byAddress(db: Db, email: string, limit: number, after?: Cursor): Promise<DeliveryRow[]> {
  const args: unknown[] = [`e:${email.toLowerCase()}`];
  let where = "d.recipient = ?";
  if (after) {
    where += " AND (d.created_at < ? OR (d.created_at = ? AND d.id < ?))";
    args.push(after.at, after.at, after.id);
  }
  args.push(limit);
  const [rows] = (await db.query(
    `SELECT d.*, n.template_key FROM deliveries d JOIN notifications n ON n.id = d.notification_id
      WHERE ${where} ORDER BY d.created_at DESC, d.id DESC LIMIT ?`,
    args,
  )) as unknown as [DeliveryRow[]];
  return rows;
}

/**
 * One search box for people on the phone with a customer: a notification id shows its deliveries, an
 * address finds mail sent to that bare address, anything else is taken as a user id. (Mail to users is
 * found by their user id: the platform does not keep users' addresses.)
 */
export function createDeliverySearch(db: Db): DeliverySearch {
  return async (q, size, token) => {
    const after = decodeCursor(token);
    if (isId(q)) {
      const n = await getNotification(db, q);
      if (n) {
        // A notification has at most a few thousand deliveries: one page, listed in full.
        const ds = (await getDeliveries(db, n.id)).map((d) => ({ ...d, template_key: n.template_key }));
        return { matchedAs: "notification_id", deliveries: ds.map((d) => toDelivery(d, [])), nextPageToken: "" };
      }
    }
    if (q.includes("@")) return page(await byAddress(db, q, size + 1, after), size, "email");
    return page(await listUserDeliveries(db, q, size + 1, after), size, "user_id");
  };
}
