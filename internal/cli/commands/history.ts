import {
  DeliveryStatusSchema,
  ListByUserResponseSchema,
  NotificationService,
} from "../../../gen/notify/v1/notification_service_pb.js";
import { optInt, optString } from "../args.js";
import { UsageError } from "../errors.js";
import type { Command } from "../context.js";
import { enumLabel, formatTable, formatTime, truncate } from "../output.js";

const USAGE = "notifyctl history --user <id> [--channel c] [--page-size n] [--page-token t]";

export const historyCommand: Command = {
  name: "history",
  usage: "--user <id> [--channel c] [--page-size n] [--page-token t]",
  summary: "a user's deliveries, newest first (NotificationService.ListByUser)",
  options: {
    user: { type: "string" },
    channel: { type: "string" },
    "page-size": { type: "string" },
    "page-token": { type: "string" },
  },
  async run(ctx, positionals, values) {
    if (positionals.length) throw new UsageError("history takes only flags", USAGE);
    const userId = optString(values, "user");
    if (!userId) throw new UsageError("--user is required", USAGE);
    const res = await ctx.client(NotificationService).listByUser(
      {
        userId,
        channel: optString(values, "channel") ?? "",
        pageSize: optInt(values, "page-size", { min: 1, max: 500 }) ?? 0,
        pageToken: optString(values, "page-token") ?? "",
      },
      ctx.unary,
    );
    if (ctx.json) return ctx.writeJson(ListByUserResponseSchema, res);
    const rows = res.deliveries.map((d) => [
      formatTime(d.createdAt),
      d.template || "-",
      d.channel,
      enumLabel(DeliveryStatusSchema, d.status),
      String(d.attempts),
      d.notificationId,
      truncate(d.lastError, 50),
    ]);
    ctx.write(formatTable(["CREATED", "TEMPLATE", "CHANNEL", "STATUS", "ATTEMPTS", "NOTIFICATION", "LAST ERROR"], rows));
    if (res.nextPageToken) ctx.write(`more: --page-token ${res.nextPageToken}\n`);
  },
};
