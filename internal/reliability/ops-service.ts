import { create } from "@bufbuild/protobuf";
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import type { Requirement } from "../auth/interceptor.js";
import {
  DeadLetterSchema,
  OpsService,
  type DeadLetterFilter as PbFilter,
} from "../../gen/notify/v1/ops_service_pb.js";
import type { DeadLetterFilter, DeadLetterRow, DeadLetters, Selection } from "./dead-letters.js";

/** Who may call what: reading the inbox is `read`, changing it is `admin`. */
export const OPS_DEAD_LETTER_RULES: Record<string, Requirement> = {
  "notify.v1.OpsService/ListDeadLetters": { scope: "read" },
  "notify.v1.OpsService/GetDeadLetter": { scope: "read" },
  "notify.v1.OpsService/ReplayDeadLetters": { scope: "admin" },
  "notify.v1.OpsService/PurgeDeadLetters": { scope: "admin" },
};

const REASONS = new Set(["max_deliveries", "poison"]);

function toFilter(f: PbFilter | undefined): DeadLetterFilter {
  if (f?.reason && !REASONS.has(f.reason)) {
    throw new ConnectError(`filter.reason: "${f.reason}" is not one of ${[...REASONS].join(", ")}`, Code.InvalidArgument);
  }
  const ts = (t: Timestamp | undefined) => (t ? timestampDate(t) : undefined);
  return { source: f?.channel || undefined, reason: f?.reason || undefined, since: ts(f?.since), until: ts(f?.until), includeReplayed: f?.includeReplayed ?? false };
}

function toSelection(ids: bigint[], f: PbFilter | undefined): Selection {
  if (ids.length > 0 && f) throw new ConnectError("give ids or filter, not both", Code.InvalidArgument);
  if (ids.length > 0) return { ids: ids.map(Number) };
  if (f) return { filter: toFilter(f) };
  throw new ConnectError("ids or filter is required (an empty filter selects every dead letter)", Code.InvalidArgument);
}

function toMessage(r: DeadLetterRow) {
  return create(DeadLetterSchema, {
    id: BigInt(r.id),
    source: r.source,
    reason: r.reason,
    error: r.error,
    deliveryId: r.deliveryId ?? "",
    notificationId: r.notificationId ?? "",
    subject: r.subject,
    streamSequence: BigInt(r.streamSeq),
    deliveries: r.deliveries,
    publishedAt: timestampFromDate(r.publishedAt),
    deadAt: timestampFromDate(r.createdAt),
    replayCount: r.replays,
    lastReplayedAt: r.replayedAt ? timestampFromDate(r.replayedAt) : undefined,
    uncertain: r.uncertain,
    deliveryStatus: r.deliveryStatus ?? 0,
  });
}

/** The dead-letter half of OpsService (settings are another area's, added to the same service later). */
export function createOpsService(dl: DeadLetters): Partial<ServiceImpl<typeof OpsService>> {
  return {
    async listDeadLetters(req) {
      const size = req.pageSize === 0 ? 100 : Math.min(500, req.pageSize);
      let before: number | undefined;
      if (req.pageToken) {
        before = Number(req.pageToken);
        if (!Number.isSafeInteger(before) || before <= 0) throw new ConnectError("page_token: not a token from this API", Code.InvalidArgument);
      }
      const rows = await dl.list(toFilter(req.filter), size + 1, before);
      const page = rows.slice(0, size);
      return {
        deadLetters: page.map(toMessage),
        nextPageToken: rows.length > size ? String(page[page.length - 1].id) : "",
      };
    },
    async getDeadLetter(req) {
      const r = await dl.get(Number(req.id));
      if (!r) throw new ConnectError(`dead letter ${req.id} not found`, Code.NotFound);
      return { deadLetter: toMessage(r), payload: r.payload ?? new Uint8Array() };
    },
    async replayDeadLetters(req) {
      const r = await dl.replay(toSelection(req.ids, req.filter));
      return { replayed: r.replayed.length, skipped: r.skipped, replayedIds: r.replayed.map(BigInt) };
    },
    async purgeDeadLetters(req) {
      return { purged: await dl.purge(toSelection(req.ids, req.filter)) };
    },
  };
}
