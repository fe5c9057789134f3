import {
  DeliveryStatusSchema,
  GetResponseSchema,
  NotificationService,
  NotificationStatusSchema,
} from "../../../gen/notify/v1/notification_service_pb.js";
import { optBool } from "../args.js";
import { UsageError } from "../errors.js";
import type { Command } from "../context.js";
import { enumLabel, formatFields, formatTable, formatTime, truncate } from "../output.js";

export const statusCommand: Command = {
  name: "status",
  usage: "<notification-id> [--events]",
  summary: "show a notification and each delivery's state (NotificationService.Get)",
  options: { events: { type: "boolean" } },
  async run(ctx, positionals, values) {
    if (positionals.length !== 1) throw new UsageError("status needs one notification id", "notifyctl status <notification-id> [--events]");
    const res = await ctx.client(NotificationService).get({ notificationId: positionals[0] }, ctx.unary);
    if (ctx.json) return ctx.writeJson(GetResponseSchema, res);
    const n = res.notification;
    if (n) {
      ctx.write(
        formatFields([
          ["notification", n.id],
          ["status", enumLabel(NotificationStatusSchema, n.status)],
          ["template", `${n.template} v${n.templateVersion}`],
          ["category", n.category || "-"],
          ["channels", n.channels.join(", ") || "(template's)"],
          ["recipients", String(n.recipientCount)],
          ["source", n.source || "-"],
          ["idempotency key", n.idempotencyKey],
          ["created", formatTime(n.createdAt)],
          ...(n.sendAfter ? ([["send after", formatTime(n.sendAfter)]] as [string, string][]) : []),
        ]),
      );
    }
    if (res.deliveries.length === 0) return void ctx.write("\nno deliveries yet\n");
    const rows = res.deliveries.map((d) => [
      d.id,
      d.channel,
      d.userId || "-",
      enumLabel(DeliveryStatusSchema, d.status),
      String(d.attempts),
      formatTime(d.updatedAt),
      truncate(d.lastError, 60),
    ]);
    ctx.write(`\n${formatTable(["DELIVERY", "CHANNEL", "USER", "STATUS", "ATTEMPTS", "UPDATED", "LAST ERROR"], rows)}`);
    if (!optBool(values, "events")) return;
    for (const d of res.deliveries) {
      ctx.write(`\n${d.id} (${d.channel}):\n`);
      for (const e of d.events) {
        ctx.write(`  ${formatTime(e.at)}  ${enumLabel(DeliveryStatusSchema, e.status).padEnd(10)}  ${e.detail}\n`);
      }
    }
  },
};
