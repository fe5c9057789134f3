import { toJson, type JsonObject } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  TemplateService,
  TemplateServiceGetResponseSchema,
  TemplateServiceListResponseSchema,
  TemplateServicePreviewResponseSchema,
  VariableTypeSchema,
} from "../../../gen/notify/v1/template_service_pb.js";
import { optBool, optInt, optString, parseJsonInput, readInput, type OptionValues } from "../args.js";
import { UsageError } from "../errors.js";
import type { CliContext, Command } from "../context.js";
import { enumLabel, formatFields, formatTable, formatTime, truncate } from "../output.js";

const USAGE = [
  "notifyctl templates list [--query text] [--all] [--page-size n] [--page-token t]",
  "       notifyctl templates show <key> [--version n]",
  "       notifyctl templates preview <key> [--version n] [--locale l] [--channel c] [--data json|@file|-] [--user id]",
].join("\n");

export const templatesCommand: Command = {
  name: "templates",
  usage: "list|show|preview ...",
  summary: "list templates, show one version, preview it rendered",
  options: {
    query: { type: "string" },
    all: { type: "boolean" },
    "page-size": { type: "string" },
    "page-token": { type: "string" },
    version: { type: "string" },
    locale: { type: "string" },
    channel: { type: "string" },
    data: { type: "string" },
    user: { type: "string" },
  },
  async run(ctx, positionals, values) {
    const [sub, ...rest] = positionals;
    switch (sub) {
      case "list":
        if (rest.length) throw new UsageError("templates list takes no arguments", USAGE);
        return list(ctx, values);
      case "show":
        if (rest.length !== 1) throw new UsageError("templates show needs a template key", USAGE);
        return show(ctx, rest[0], values);
      case "preview":
        if (rest.length !== 1) throw new UsageError("templates preview needs a template key", USAGE);
        return preview(ctx, rest[0], values);
      default:
        throw new UsageError(sub ? `unknown templates command ${JSON.stringify(sub)}` : "templates needs list, show or preview", USAGE);
    }
  },
};

async function list(ctx: CliContext, values: OptionValues) {
  const res = await ctx.client(TemplateService).list(
    {
      query: optString(values, "query") ?? "",
      includeArchived: optBool(values, "all"),
      pageSize: optInt(values, "page-size", { min: 1, max: 200 }) ?? 0,
      pageToken: optString(values, "page-token") ?? "",
    },
    ctx.unary,
  );
  if (ctx.json) return ctx.writeJson(TemplateServiceListResponseSchema, res);
  const rows = res.templates.map((t) => [
    t.key + (t.archived ? " (archived)" : ""),
    truncate(t.name, 40),
    t.category,
    t.channels.join(","),
    String(t.currentVersion),
    formatTime(t.updatedAt),
  ]);
  ctx.write(formatTable(["KEY", "NAME", "CATEGORY", "CHANNELS", "VERSION", "UPDATED"], rows));
  if (res.nextPageToken) ctx.write(`more: --page-token ${res.nextPageToken}\n`);
}

async function show(ctx: CliContext, key: string, values: OptionValues) {
  const version = optInt(values, "version", { min: 1, max: 2 ** 31 }) ?? 0;
  const res = await ctx.client(TemplateService).get({ key, version }, ctx.unary);
  if (ctx.json) return ctx.writeJson(TemplateServiceGetResponseSchema, res);
  const t = res.template;
  const v = res.version;
  if (t) {
    ctx.write(
      formatFields([
        ["key", t.key],
        ["name", t.name],
        ["category", t.category],
        ["channels", t.channels.join(", ")],
        ["default locale", t.defaultLocale],
        ["current version", String(t.currentVersion)],
        ["archived", t.archived ? "yes" : "no"],
        ["updated", formatTime(t.updatedAt)],
      ]),
    );
  }
  if (!v) return;
  ctx.write(`\nversion ${v.version}${v.layout ? `, layout ${v.layout}` : ""}, created ${formatTime(v.createdAt)} by ${v.createdBy || "-"}\n`);
  if (v.variables.length) {
    const rows = v.variables.map((x) => [
      x.name,
      enumLabel(VariableTypeSchema, x.type),
      x.required ? "yes" : "",
      x.sample ? truncate(JSON.stringify(toJson(ValueSchema, x.sample)), 30) : "",
      truncate(x.description, 50),
    ]);
    ctx.write(`\n${formatTable(["VARIABLE", "TYPE", "REQUIRED", "SAMPLE", "DESCRIPTION"], rows)}`);
  }
  for (const c of v.contents) {
    for (const [part, source] of Object.entries(c.parts)) ctx.write(`\n--- ${c.locale} ${part} ---\n${source.trimEnd()}\n`);
  }
}

async function preview(ctx: CliContext, key: string, values: OptionValues) {
  const dataArg = optString(values, "data");
  const data = dataArg === undefined ? undefined : parseJsonInput(await readInput(dataArg, ctx.io.stdin), "--data");
  if (data !== undefined && (typeof data !== "object" || data === null || Array.isArray(data))) {
    throw new UsageError("--data must be a JSON object");
  }
  const res = await ctx.client(TemplateService).preview(
    {
      key,
      version: optInt(values, "version", { min: 1, max: 2 ** 31 }) ?? 0,
      locale: optString(values, "locale") ?? "",
      channel: optString(values, "channel") ?? "",
      userId: optString(values, "user") ?? "",
      data: data as JsonObject | undefined,
    },
    ctx.unary,
  );
  if (ctx.json) return ctx.writeJson(TemplateServicePreviewResponseSchema, res);
  ctx.write(`template ${key} version ${res.version || "-"}, locale ${res.locale || "-"}\n`);
  for (const p of res.problems) ctx.write(`problem: ${p}\n`);
  for (const [part, text] of Object.entries(res.parts)) ctx.write(`\n--- ${part} ---\n${text.trimEnd()}\n`);
}
