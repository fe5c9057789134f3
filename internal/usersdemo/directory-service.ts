import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import {
  ConfirmEmailResponseSchema,
  GetUsersResponseSchema,
  ListUsersResponseSchema,
  UserSchema,
  type UserDirectory,
  type UserFilter,
  type User,
} from "../../gen/cinema/users/v1/user_directory_pb.js";
import type { Db } from "../store/db.js";
import type { Logger } from "../log/logger.js";
import { decodePageToken, encodePageToken, filterFingerprint } from "./page-token.js";
import { confirmEmail, countUsers, findUsersByIds, listUsersAfter, type UserQuery, type UserRow } from "./user-repo.js";

export const MAX_GET_USERS = 500;
export const MAX_FILTER_IDS = 10_000;
export const DEFAULT_PAGE_SIZE = 500;
export const MAX_PAGE_SIZE = 5_000;

export function toUserMessage(r: UserRow): User {
  return create(UserSchema, {
    id: r.id,
    email: r.email,
    name: r.name,
    locale: r.locale,
    timeZone: r.timeZone,
    favouriteGenres: r.favouriteGenres,
    phone: r.phone,
    emailConfirmed: r.emailConfirmed,
    birthday: r.birthday,
    subscriptionExpiresAt: r.subscriptionExpiresAt ? timestampFromDate(r.subscriptionExpiresAt) : undefined,
    createdAt: timestampFromDate(r.createdAt),
  });
}

function toQuery(f: UserFilter | undefined): UserQuery {
  const q: UserQuery = {
    favouriteGenre: f?.favouriteGenre ?? "",
    locale: f?.locale ?? "",
    subscriptionExpiresWithinDays: f?.subscriptionExpiresWithinDays ?? 0,
    birthdayMonthDay: f?.birthdayMonthDay ?? "",
    ids: [...new Set(f?.ids ?? [])],
    timeZone: f?.timeZone ?? "",
  };
  if (q.birthdayMonthDay && !/^(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$/.test(q.birthdayMonthDay)) {
    throw new ConnectError("filter.birthday_month_day must be MM-DD", Code.InvalidArgument);
  }
  if (q.ids.length > MAX_FILTER_IDS) {
    throw new ConnectError(`filter.ids holds at most ${MAX_FILTER_IDS} ids`, Code.InvalidArgument);
  }
  return q;
}

export function createDirectoryService(db: Db, log: Logger): ServiceImpl<typeof UserDirectory> {
  return {
    async getUsers(req) {
      if (req.ids.length > MAX_GET_USERS) {
        throw new ConnectError(`at most ${MAX_GET_USERS} ids per call, got ${req.ids.length}`, Code.InvalidArgument);
      }
      const ids = [...new Set(req.ids)];
      const rows = await findUsersByIds(db, ids);
      const found = new Set(rows.map((r) => r.id));
      return create(GetUsersResponseSchema, {
        users: rows.map(toUserMessage),
        missingIds: ids.filter((id) => !found.has(id)),
      });
    },

    async listUsers(req) {
      const q = toQuery(req.filter);
      // Past the maximum the size is coerced down rather than refused (AIP-158).
      const pageSize = Math.min(req.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
      const fingerprint = filterFingerprint(q);
      let afterSeq = 0;
      if (req.pageToken) {
        const decoded = decodePageToken(req.pageToken, fingerprint);
        if (decoded instanceof Error) throw new ConnectError(decoded.message, Code.InvalidArgument);
        afterSeq = decoded;
      }
      const now = new Date();
      const rows = await listUsersAfter(db, q, afterSeq, pageSize + 1, now);
      const more = rows.length > pageSize;
      const page = more ? rows.slice(0, pageSize) : rows;
      const totalSize = req.pageToken ? 0 : await countUsers(db, q, now);
      return create(ListUsersResponseSchema, {
        users: page.map(toUserMessage),
        nextPageToken: more ? encodePageToken(page[page.length - 1].seq, fingerprint) : "",
        totalSize: BigInt(totalSize),
      });
    },

    async confirmEmail(req) {
      if (!req.userId) throw new ConnectError("user_id is required", Code.InvalidArgument);
      const result = await confirmEmail(db, req.userId);
      if (result === "not_found") throw new ConnectError(`user ${req.userId} not found`, Code.NotFound);
      if (result === "confirmed") log.info({ userId: req.userId }, "email confirmed");
      return create(ConfirmEmailResponseSchema, { newlyConfirmed: result === "confirmed" });
    },
  };
}
