import type { JsonObject } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { NotificationService, SendResponseSchema } from "../../../gen/notify/v1/notification_service_pb.js";
import { newId } from "../../ids/ids.js";
import { parseDuration, optInt, optString, optStrings, parseJsonInput, readInput } from "../args.js";
import { UsageError } from "../errors.js";
import type { Command } from "../context.js";
import { formatTime } from "../output.js";

const USAGE =
  "notifyctl send --template <key> (--user <id> | --email <addr>)... [--channel c]... [--data json|@file|-]\n" +
  "       [--category c] [--locale l] [--key idempotency-key] [--send-after ISO-time|+10m] [--template-version n] [--sender id]";

export const sendCommand: Command = {
  name: "send",
  usage: "--template <key> (--user <id> | --email <addr>)... [options]",
  summary: "send a notification (NotificationService.Send)",
  options: {
    template: { type: "string" },
    user: { type: "string", multiple: true },
    email: { type: "string", multiple: true },
    channel: { type: "string", multiple: true },
    data: { type: "string" },
    category: { type: "string" },
    locale: { type: "string" },
    key: { type: "string" },
    "send-after": { type: "string" },
    "template-version": { type: "string" },
    sender: { type: "string" },
  },
  async run(ctx, positionals, values) {
    if (positionals.length) throw new UsageError("send takes only flags", USAGE);
    const template = optString(values, "template");
    if (!template) throw new UsageError("--template is required", USAGE);
    const recipients = [
      ...optStrings(values, "user").map((userId) => ({ target: { case: "userId" as const, value: userId } })),
      ...optStrings(values, "email").map((email) => ({ target: { case: "email" as const, value: email } })),
    ];
    if (recipients.length === 0) throw new UsageError("at least one --user or --email is required", USAGE);
    const dataArg = optString(values, "data");
    const data = dataArg === undefined ? undefined : parseJsonInput(await readInput(dataArg, ctx.io.stdin), "--data");
    if (data !== undefined && (typeof data !== "object" || data === null || Array.isArray(data))) {
      throw new UsageError("--data must be a JSON object");
    }
    const sendAfter = optString(values, "send-after");
    // Generated when not given, and printed, so a failed send can be retried safely with --key.
    const key = optString(values, "key") ?? newId();

    const res = await ctx.client(NotificationService).send(
      {
        idempotencyKey: key,
        template,
        templateVersion: optInt(values, "template-version", { min: 1, max: 2 ** 31 }) ?? 0,
        recipients,
        channels: optStrings(values, "channel"),
        category: optString(values, "category") ?? "",
        data: data as JsonObject | undefined,
        sendAfter: sendAfter === undefined ? undefined : timestampFromDate(parseWhen(sendAfter)),
        locale: optString(values, "locale") ?? "",
        senderId: optString(values, "sender") ?? "",
      },
      ctx.unary,
    );
    if (ctx.json) return ctx.writeJson(SendResponseSchema, res);
    ctx.write(
      `${res.duplicate ? "duplicate of" : "accepted"} ${res.notificationId} at ${formatTime(res.acceptedAt)}\n` +
        `idempotency key: ${key}\n`,
    );
  },
};

/** An ISO time, or "+<duration>" from now. */
function parseWhen(text: string): Date {
  if (text.startsWith("+")) return new Date(Date.now() + parseDuration(text.slice(1)));
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new UsageError(`--send-after: invalid time ${JSON.stringify(text)}`);
  return d;
}
