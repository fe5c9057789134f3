import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { InboxItemSchema, type InboxService } from "../../gen/notify/v1/inbox_service_pb.js";
import { principalKey, type CustomAuthenticator, type Requirement } from "../auth/interceptor.js";
import type { Db } from "../store/db.js";
import { bearerToken, UserAuthError, type UserVerifier } from "./auth.js";
import { listItems, unreadCount, type InboxItem } from "./inbox-store.js";
import type { Receipts } from "./receipts.js";

/** The authenticator name InboxService's methods require. */
export const USER_JWT = "user-jwt";

export const INBOX_RULES: Record<string, Requirement> = Object.fromEntries(
  ["List", "MarkRead", "MarkAllRead", "UnreadCount"].map((m) => [`notify.v1.InboxService/${m}`, { custom: USER_JWT }]),
);

/** Authenticates the cinema's user JWT; the principal's id is the user id and nothing else is trusted. */
export function createUserJwtAuthenticator(verifier: UserVerifier): CustomAuthenticator {
  return async (header) => {
    try {
      const c = await verifier.verify(bearerToken(header.get("authorization")) ?? "");
      return { kind: "custom", id: c.userId, name: `user:${c.userId}`, attrs: { userId: c.userId } };
    } catch (err) {
      const e = err instanceof UserAuthError ? err : new UserAuthError("invalid token");
      throw new ConnectError(e.message, e.status === 503 ? Code.Unavailable : Code.Unauthenticated);
    }
  };
}

function userOf(ctx: HandlerContext): string {
  const p = ctx.values.get(principalKey);
  if (p?.kind !== "custom" || !p.attrs.userId) throw new ConnectError("a user token is required", Code.Unauthenticated);
  return p.attrs.userId;
}

const toMessage = (it: InboxItem) =>
  create(InboxItemSchema, {
    id: it.id,
    notificationId: it.notificationId,
    category: it.category,
    senderId: it.senderId,
    template: it.template,
    title: it.title,
    body: it.body,
    createdAt: timestampFromDate(it.createdAt),
    deliveredAt: it.deliveredAt ? timestampFromDate(it.deliveredAt) : undefined,
    readAt: it.readAt ? timestampFromDate(it.readAt) : undefined,
  });

const ID = /^[0-9a-fA-F-]{36}$/;
const MAX_MARK = 500;

/** The signed-in user's inbox; every query is scoped to the token's user, never to a request field. */
export function createInboxService(deps: { db: Db; receipts: Receipts }): ServiceImpl<typeof InboxService> {
  return {
    async list(req, ctx) {
      const userId = userOf(ctx);
      const size = req.pageSize === 0 ? 20 : req.pageSize;
      if (size > 100) throw new ConnectError("page_size: at most 100", Code.InvalidArgument);
      let beforeSeq: number | undefined;
      if (req.pageToken) {
        beforeSeq = Number(Buffer.from(req.pageToken, "base64url").toString());
        if (!Number.isSafeInteger(beforeSeq) || beforeSeq <= 0) throw new ConnectError("page_token: malformed", Code.InvalidArgument);
      }
      const rows = await listItems(deps.db, userId, { limit: size + 1, beforeSeq, unreadOnly: req.unreadOnly });
      const page = rows.slice(0, size);
      const more = rows.length > size;
      return {
        items: page.map(toMessage),
        nextPageToken: more ? Buffer.from(String(page[page.length - 1].seq)).toString("base64url") : "",
        unreadCount: await unreadCount(deps.db, userId),
      };
    },
    async markRead(req, ctx) {
      const userId = userOf(ctx);
      if (req.ids.length === 0) throw new ConnectError("ids: at least one id is required", Code.InvalidArgument);
      if (req.ids.length > MAX_MARK) throw new ConnectError(`ids: at most ${MAX_MARK}`, Code.InvalidArgument);
      req.ids.forEach((id, i) => {
        if (!ID.test(id)) throw new ConnectError(`ids[${i}]: not an item id`, Code.InvalidArgument);
      });
      const changed = await deps.receipts.record(userId, req.ids, "read");
      return { marked: changed.length, unreadCount: await unreadCount(deps.db, userId) };
    },
    async markAllRead(_req, ctx) {
      return { marked: await deps.receipts.markAllRead(userOf(ctx)) };
    },
    async unreadCount(_req, ctx) {
      return { count: await unreadCount(deps.db, userOf(ctx)) };
    },
  };
}
