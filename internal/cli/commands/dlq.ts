import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import {
  GetDeadLetterResponseSchema,
  ListDeadLettersResponseSchema,
  OpsService,
  PurgeDeadLettersResponseSchema,
  ReplayDeadLettersResponseSchema,
  type DeadLetterFilter,
} from "../../../gen/notify/v1/ops_service_pb.js";
import { DeliveryStatusSchema } from "../../../gen/notify/v1/notification_service_pb.js";
import { optBool, optInt, optString, parseInstant, type OptionValues } from "../args.js";
import { UsageError } from "../errors.js";
import type { CliContext, Command } from "../context.js";
import { enumLabel, formatFields, formatTable, formatTime, truncate } from "../output.js";

const FILTER = "[--channel c] [--reason max_deliveries|poison] [--since T] [--until T] [--include-replayed]";
const USAGE = [
  `notifyctl dlq list ${FILTER} [--page-size n] [--page-token t]`,
  "       notifyctl dlq show <id>",
  `       notifyctl dlq replay (<id>... | ${FILTER} | --all [--include-replayed])`,
  `       notifyctl dlq purge (<id>... | ${FILTER} | --all [--include-replayed]) --yes`,
  "       times: ISO 8601, +10m, or -1h (an hour ago)",
].join("\n");

/** Dead letters (OpsService): messages whose attempts ran out, or that could never be handled. */
export const dlqCommand: Command = {
  name: "dlq",
  usage: "list|show|replay|purge ...",
  summary: "list, inspect, replay and purge dead letters (OpsService)",
  options: {
    channel: { type: "string" },
    reason: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
    "include-replayed": { type: "boolean" },
    all: { type: "boolean" },
    yes: { type: "boolean" },
    "page-size": { type: "string" },
    "page-token": { type: "string" },
  },
  async run(ctx, positionals, values) {
    const [sub, ...rest] = positionals;
    switch (sub) {
      case "list":
        if (rest.length) throw new UsageError("dlq list takes only flags", USAGE);
        return list(ctx, values);
      case "show":
        if (rest.length !== 1) throw new UsageError("dlq show needs one id", USAGE);
        return show(ctx, deadLetterId(rest[0]));
      case "replay":
      case "purge":
        return change(ctx, sub, rest, values);
      default:
        throw new UsageError(sub ? `unknown dlq command ${JSON.stringify(sub)}` : "dlq needs list, show, replay or purge", USAGE);
    }
  },
};

function deadLetterId(text: string): bigint {
  if (!/^\d{1,19}$/.test(text) || BigInt(text) === 0n) throw new UsageError(`invalid dead letter id ${JSON.stringify(text)}`, USAGE);
  return BigInt(text);
}

/** The filter flags, or undefined when none was given. */
function filterFrom(values: OptionValues): DeadLetterFilter | undefined {
  const since = optString(values, "since");
  const until = optString(values, "until");
  const f = {
    channel: optString(values, "channel") ?? "",
    reason: optString(values, "reason") ?? "",
    since: since === undefined ? undefined : timestampFromDate(parseInstant(since, "--since")),
    until: until === undefined ? undefined : timestampFromDate(parseInstant(until, "--until")),
    includeReplayed: optBool(values, "include-replayed"),
  };
  const given = f.channel || f.reason || f.since || f.until || f.includeReplayed;
  return given ? (f as DeadLetterFilter) : undefined;
}

async function list(ctx: CliContext, values: OptionValues) {
  const res = await ctx.client(OpsService).listDeadLetters(
    {
      filter: filterFrom(values),
      pageSize: optInt(values, "page-size", { min: 1, max: 500 }) ?? 0,
      pageToken: optString(values, "page-token") ?? "",
    },
    ctx.unary,
  );
  if (ctx.json) return ctx.writeJson(ListDeadLettersResponseSchema, res);
  const rows = res.deadLetters.map((d) => [
    String(d.id),
    d.source,
    d.reason,
    formatTime(d.deadAt),
    d.deliveryId || "-",
    d.deliveryStatus ? enumLabel(DeliveryStatusSchema, d.deliveryStatus) : "-",
    String(d.replayCount),
    truncate(d.error, 50),
  ]);
  ctx.write(formatTable(["ID", "SOURCE", "REASON", "DEAD AT", "DELIVERY", "STATUS", "REPLAYS", "ERROR"], rows));
  if (res.nextPageToken) ctx.write(`more: --page-token ${res.nextPageToken}\n`);
}

async function show(ctx: CliContext, id: bigint) {
  const res = await ctx.client(OpsService).getDeadLetter({ id }, ctx.unary);
  if (ctx.json) return ctx.writeJson(GetDeadLetterResponseSchema, res);
  const d = res.deadLetter;
  if (d) {
    ctx.write(
      formatFields([
        ["dead letter", String(d.id)],
        ["source", d.source],
        ["reason", d.reason],
        ["error", d.error || "-"],
        ["subject", d.subject],
        ["stream sequence", String(d.streamSequence)],
        ["attempts", String(d.deliveries)],
        ["published", formatTime(d.publishedAt)],
        ["dead at", formatTime(d.deadAt)],
        ["notification", d.notificationId || "-"],
        ["delivery", d.deliveryId ? `${d.deliveryId} (${d.deliveryStatus ? enumLabel(DeliveryStatusSchema, d.deliveryStatus) : "?"})` : "-"],
        ["uncertain", d.uncertain ? "yes: the peer may have accepted it before the failure" : "no"],
        ["replays", d.replayCount ? `${d.replayCount}, last ${formatTime(d.lastReplayedAt)}` : "0"],
      ]),
    );
  }
  ctx.write(`\n--- payload (${res.payload.length} bytes) ---\n${payloadText(res.payload)}\n`);
}

/** Pretty JSON when the payload is JSON, else text when printable, else base64. */
function payloadText(bytes: Uint8Array): string {
  const text = Buffer.from(bytes).toString("utf8");
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // not JSON
  }
  // eslint-disable-next-line no-control-regex
  return /^[\x09\x0a\x0d\x20-\x7e\u00a0-\uffff]*$/.test(text) && !text.includes("\ufffd") ? text : `base64:${Buffer.from(bytes).toString("base64")}`;
}

async function change(ctx: CliContext, sub: "replay" | "purge", rest: string[], values: OptionValues) {
  const ids = rest.map(deadLetterId);
  let filter = filterFrom(values);
  if (optBool(values, "all")) {
    if (filter && (filter.channel || filter.reason || filter.since || filter.until)) {
      throw new UsageError("--all selects every dead letter; only --include-replayed goes with it", USAGE);
    }
    // An empty filter selects everything (replayed ones only with --include-replayed).
    filter = { includeReplayed: optBool(values, "include-replayed") } as DeadLetterFilter;
  }
  if (ids.length > 0 && filter) throw new UsageError(`dlq ${sub}: give ids or filter flags, not both`, USAGE);
  if (ids.length === 0 && !filter) throw new UsageError(`dlq ${sub}: give ids, filter flags, or --all`, USAGE);
  if (sub === "purge" && filter && !optBool(values, "yes")) {
    throw new UsageError("dlq purge by filter deletes every match for good; add --yes", USAGE);
  }
  const client = ctx.client(OpsService);
  if (sub === "replay") {
    const res = await client.replayDeadLetters({ ids, filter }, ctx.unary);
    if (ctx.json) return ctx.writeJson(ReplayDeadLettersResponseSchema, res);
    ctx.write(`replayed ${res.replayed}, skipped ${res.skipped}${res.replayedIds.length ? ` (ids ${res.replayedIds.join(" ")})` : ""}\n`);
    return;
  }
  const res = await client.purgeDeadLetters({ ids, filter }, ctx.unary);
  if (ctx.json) return ctx.writeJson(PurgeDeadLettersResponseSchema, res);
  ctx.write(`purged ${res.purged}\n`);
}
