import { Code, ConnectError } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as S,
  HealthListResponseSchema,
} from "../../../gen/health/v1/health_pb.js";
import { optBool } from "../args.js";
import { CommandFailed, UsageError } from "../errors.js";
import type { Command } from "../context.js";
import { formatTable } from "../output.js";

const LIST_FALLBACK = new Set([Code.Unimplemented, Code.Unauthenticated, Code.PermissionDenied]);

/** Exit 0 only when the server (or the named service) is SERVING, so it works as a probe. */
export const healthCommand: Command = {
  name: "health",
  usage: "[service] [--watch]",
  summary: "show health statuses (grpc.health.v1); exit 1 unless SERVING",
  options: { watch: { type: "boolean" } },
  async run(ctx, positionals, values) {
    if (positionals.length > 1) throw new UsageError("health takes at most one service", "notifyctl health [service] [--watch]");
    const client = ctx.client(Health);
    const service = positionals[0] ?? "";
    const label = service === "" ? "server" : service;

    if (optBool(values, "watch")) {
      for await (const res of client.watch({ service }, ctx.stream)) {
        if (ctx.json) ctx.writeJson(HealthCheckResponseSchema, res);
        else ctx.write(`${new Date().toISOString()}  ${label}  ${S[res.status]}\n`);
      }
      return;
    }

    if (positionals.length === 0) {
      // List is newer than Check and may be missing or closed to this key; Check("") still answers.
      const list = await client.list({}, ctx.unary).catch((err: unknown) => {
        if (err instanceof ConnectError && LIST_FALLBACK.has(err.code)) return undefined;
        throw err;
      });
      if (list) {
        if (ctx.json) ctx.writeJson(HealthListResponseSchema, list);
        else {
          const rows = Object.entries(list.statuses)
            .sort(([a], [b]) => a.localeCompare(b))
            .map(([name, s]) => [name === "" ? "(server)" : name, S[s.status]]);
          ctx.write(formatTable(["SERVICE", "STATUS"], rows));
        }
        const overall = list.statuses[""]?.status;
        if (overall !== undefined && overall !== S.SERVING) throw new CommandFailed(`server is ${S[overall]}`);
        return;
      }
    }

    const res = await client.check({ service }, ctx.unary);
    if (ctx.json) ctx.writeJson(HealthCheckResponseSchema, res);
    else ctx.write(`${label}: ${S[res.status]}\n`);
    if (res.status !== S.SERVING) throw new CommandFailed(`${label} is ${S[res.status]}`);
  },
};
