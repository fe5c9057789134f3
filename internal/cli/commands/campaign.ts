import type { DescEnum } from "@bufbuild/protobuf";
import {
  CampaignService,
  CampaignServiceCancelResponseSchema,
  CampaignServiceGetResponseSchema,
  CampaignServiceListResponseSchema,
  CampaignServicePauseResponseSchema,
  CampaignServiceResumeResponseSchema,
  CampaignServiceSetRateResponseSchema,
  CampaignServiceWatchProgressResponseSchema,
  CampaignStatus,
  CampaignStatusSchema,
  RunStatus,
  RunStatusSchema,
  type Campaign,
  type Progress,
} from "../../../gen/notify/v1/campaign_service_pb.js";
import { optInt, optString, type OptionValues } from "../args.js";
import { CommandFailed, UsageError } from "../errors.js";
import type { CliContext, Command } from "../context.js";
import { enumLabel, formatFields, formatTable, formatTime, truncate } from "../output.js";

const USAGE = [
  "notifyctl campaign list [--status draft|scheduled|paused|completed|cancelled] [--page-size n] [--page-token t]",
  "       notifyctl campaign show <id>",
  "       notifyctl campaign pause|resume|cancel <id>",
  "       notifyctl campaign rate <id> <messages-per-second>",
  "       notifyctl campaign watch <id> [--run id]",
].join("\n");

export const campaignCommand: Command = {
  name: "campaign",
  usage: "list|show|pause|resume|cancel|rate|watch ...",
  summary: "list, inspect and steer campaigns; watch a run's progress live (CampaignService)",
  options: {
    status: { type: "string" },
    "page-size": { type: "string" },
    "page-token": { type: "string" },
    run: { type: "string" },
  },
  async run(ctx, positionals, values) {
    const [sub, ...rest] = positionals;
    const id = () => {
      if (rest.length < 1) throw new UsageError(`campaign ${sub} needs a campaign id`, USAGE);
      return campaignId(rest[0]);
    };
    const exactly = (n: number) => {
      if (rest.length !== n) throw new UsageError(`campaign ${sub} takes ${n} argument${n === 1 ? "" : "s"}`, USAGE);
    };
    const client = ctx.client(CampaignService);
    switch (sub) {
      case "list":
        exactly(0);
        return list(ctx, values);
      case "show":
        exactly(1);
        return show(ctx, id());
      case "pause": {
        exactly(1);
        const res = await client.pause({ campaignId: id() }, ctx.unary);
        if (ctx.json) return ctx.writeJson(CampaignServicePauseResponseSchema, res);
        return void ctx.write(`campaign ${rest[0]} is ${status(res.campaign)}\n`);
      }
      case "resume": {
        exactly(1);
        const res = await client.resume({ campaignId: id() }, ctx.unary);
        if (ctx.json) return ctx.writeJson(CampaignServiceResumeResponseSchema, res);
        return void ctx.write(`campaign ${rest[0]} is ${status(res.campaign)}\n`);
      }
      case "cancel": {
        exactly(1);
        const res = await client.cancel({ campaignId: id() }, ctx.unary);
        if (ctx.json) return ctx.writeJson(CampaignServiceCancelResponseSchema, res);
        return void ctx.write(`campaign ${rest[0]} is ${status(res.campaign)}; ${res.cancelledDeliveries} unsent deliveries cancelled\n`);
      }
      case "rate": {
        exactly(2);
        const rate = Number(rest[1]);
        if (!Number.isInteger(rate) || rate < 1) throw new UsageError("the rate is a whole number of messages per second, at least 1", USAGE);
        const res = await client.setRate({ campaignId: id(), rate }, ctx.unary);
        if (ctx.json) return ctx.writeJson(CampaignServiceSetRateResponseSchema, res);
        return void ctx.write(`campaign ${rest[0]} rate is ${res.campaign?.spec?.rate ?? rate}/s\n`);
      }
      case "watch":
        exactly(1);
        return watch(ctx, id(), values);
      default:
        throw new UsageError(sub ? `unknown campaign command ${JSON.stringify(sub)}` : "campaign needs a subcommand", USAGE);
    }
  },
};

function campaignId(text: string): bigint {
  if (!/^\d{1,19}$/.test(text) || BigInt(text) === 0n) throw new UsageError(`invalid campaign id ${JSON.stringify(text)}`, USAGE);
  return BigInt(text);
}

const status = (c: Campaign | undefined) => (c ? enumLabel(CampaignStatusSchema, c.status) : "unknown");

async function list(ctx: CliContext, values: OptionValues) {
  const statusArg = optString(values, "status");
  const res = await ctx.client(CampaignService).list(
    {
      status: statusArg === undefined ? CampaignStatus.UNSPECIFIED : parseEnum(CampaignStatusSchema, statusArg, "--status"),
      pageSize: optInt(values, "page-size", { min: 1, max: 200 }) ?? 0,
      pageToken: optString(values, "page-token") ?? "",
    },
    ctx.unary,
  );
  if (ctx.json) return ctx.writeJson(CampaignServiceListResponseSchema, res);
  const rows = res.campaigns.map((c) => [
    String(c.id),
    truncate(c.spec?.name ?? "", 40),
    status(c),
    c.spec?.template ?? "",
    `${c.spec?.rate ?? 0}/s`,
    formatTime(c.nextOccurrenceAt),
    formatTime(c.updatedAt),
  ]);
  ctx.write(formatTable(["ID", "NAME", "STATUS", "TEMPLATE", "RATE", "NEXT", "UPDATED"], rows));
  if (res.nextPageToken) ctx.write(`more: --page-token ${res.nextPageToken}\n`);
}

async function show(ctx: CliContext, id: bigint) {
  const res = await ctx.client(CampaignService).get({ campaignId: id }, ctx.unary);
  if (ctx.json) return ctx.writeJson(CampaignServiceGetResponseSchema, res);
  const c = res.campaign;
  if (c) {
    const s = c.spec;
    ctx.write(
      formatFields([
        ["campaign", `${c.id} ${s?.name ?? ""}`],
        ["status", status(c)],
        ["template", `${s?.template ?? ""}${s?.templateVersion ? ` v${s.templateVersion}` : ""}`],
        ["audience", audienceText(c)],
        ["schedule", scheduleText(c)],
        ["rate", `${s?.rate ?? 0}/s`],
        ["channels", s?.channels.join(", ") || "(template's)"],
        ["next occurrence", formatTime(c.nextOccurrenceAt)],
        ["created", `${formatTime(c.createdAt)} by ${c.createdBy || "-"}`],
      ]),
    );
  }
  if (res.runs.length === 0) return void ctx.write("\nno runs yet\n");
  const rows = res.runs.map((r) => [
    String(r.runId),
    enumLabel(RunStatusSchema, r.status),
    formatTime(r.occurrenceAt),
    String(r.audienceTotal),
    String(r.planned),
    String(r.sent),
    String(r.failed),
    String(r.skipped),
    String(r.dead),
    String(r.pending),
    truncate(r.error, 40),
  ]);
  ctx.write(`\n${formatTable(["RUN", "STATUS", "OCCURRENCE", "AUDIENCE", "PLANNED", "SENT", "FAILED", "SKIPPED", "DEAD", "PENDING", "ERROR"], rows)}`);
}

/**
 * Follows WatchProgress until the run ends. On a terminal the bar redraws in place; piped, each sample
 * is a line. Exit code: 0 when the run completed, 1 when it failed or was cancelled.
 */
async function watch(ctx: CliContext, id: bigint, values: OptionValues) {
  const runArg = optString(values, "run");
  const runId = runArg === undefined ? 0n : campaignId(runArg);
  const tty = (ctx.io.stdout as { isTTY?: boolean }).isTTY === true && !ctx.json;
  let last: Progress | undefined;
  for await (const res of ctx.client(CampaignService).watchProgress({ campaignId: id, runId }, ctx.stream)) {
    if (ctx.json) ctx.writeJson(CampaignServiceWatchProgressResponseSchema, res);
    else if (res.progress) ctx.write(tty ? `\r\x1b[K${progressLine(res.progress, res.rateLimit)}` : `${progressLine(res.progress, res.rateLimit)}\n`);
    last = res.progress ?? last;
  }
  if (tty) ctx.write("\n");
  if (!last) throw new CommandFailed(`campaign ${id}: the stream ended without progress`);
  if (last.status === RunStatus.FAILED || last.status === RunStatus.CANCELLED) {
    throw new CommandFailed(`run ${last.runId} ${enumLabel(RunStatusSchema, last.status)}${last.error ? `: ${last.error}` : ""}`);
  }
}

const BAR = 30;

/** "[##########--------------------]  33%  330/1000  sent 320 failed 2 skipped 8 dead 0 pending 670  50/s (limit 50)  eta 13s  running" */
export function progressLine(p: Progress, rateLimit = 0): string {
  const total = Number(p.audienceTotal || p.planned);
  const done = Number(p.sent + p.failed + p.skipped + p.dead + p.cancelled);
  const finished = p.status === RunStatus.COMPLETED;
  const frac = total > 0 ? Math.min(1, done / total) : finished ? 1 : 0;
  const filled = Math.round(frac * BAR);
  return [
    `[${"#".repeat(filled)}${"-".repeat(BAR - filled)}]`,
    `${String(Math.floor(frac * 100)).padStart(3)}%`,
    `${done}/${total || "?"}`,
    `sent ${p.sent} failed ${p.failed} skipped ${p.skipped} dead ${p.dead} pending ${p.pending}`,
    `${Math.round(p.rate)}/s${rateLimit ? ` (limit ${rateLimit})` : ""}`,
    p.etaSeconds > 0 ? `eta ${formatSeconds(p.etaSeconds)}` : "",
    enumLabel(RunStatusSchema, p.status),
  ]
    .filter(Boolean)
    .join("  ");
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)}s`;
  if (s < 5400) return `${Math.round(s / 60)}m`;
  return `${(s / 3600).toFixed(1)}h`;
}

/** Accepts an enum value's short name ("paused"), any case, or its full name (CAMPAIGN_STATUS_PAUSED). */
function parseEnum(desc: DescEnum, text: string, flag: string): number {
  const want = text.toLowerCase();
  const v = desc.values.find((x) => x.number !== 0 && (enumLabel(desc, x.number) === want || x.name.toLowerCase() === want));
  if (!v) {
    const known = desc.values.filter((x) => x.number !== 0).map((x) => enumLabel(desc, x.number));
    throw new UsageError(`${flag}: unknown value ${JSON.stringify(text)}; one of ${known.join(", ")}`, USAGE);
  }
  return v.number;
}

function audienceText(c: Campaign): string {
  const a = c.spec?.audience?.kind;
  if (!a?.case) return "-";
  if (a.case === "all") return "everyone";
  if (a.case === "userIds") return `id list (${c.audienceIds} ids)`;
  const seg = Object.entries(a.value)
    .filter(([k, v]) => !k.startsWith("$") && v !== "" && v !== 0 && v !== false)
    .map(([k, v]) => `${k}=${String(v)}`);
  return `segment ${seg.join(" ") || "(all)"}`;
}

function scheduleText(c: Campaign): string {
  const s = c.spec?.schedule?.kind;
  if (!s?.case) return "-";
  if (s.case === "now") return "now";
  if (s.case === "at") return `at ${formatTime(s.value)}`;
  const cron = s.value;
  return `cron "${cron.expression}" ${cron.timeZone || "UTC"}${cron.localTime ? " (each user's local time)" : ""}`;
}
