import {
  AdminService,
  AdminServiceCreateApiKeyResponseSchema,
  AdminServiceListApiKeysResponseSchema,
  AdminServiceRevokeApiKeyResponseSchema,
} from "../../../gen/notify/v1/admin_service_pb.js";
import { optString } from "../args.js";
import { CommandFailed, UsageError } from "../errors.js";
import type { Command } from "../context.js";
import { formatTable, formatTime } from "../output.js";

const USAGE = [
  "notifyctl keys create <name> [--scopes send,read]",
  "       notifyctl keys list",
  "       notifyctl keys revoke <name>",
].join("\n");

/**
 * API keys over AdminService's key RPCs (admin scope). `create` prints the secret alone on stdout, so
 * `KEY=$(notifyctl keys create billing --scopes send)` captures it; the note goes to stderr.
 */
export const keysCommand: Command = {
  name: "keys",
  usage: "create <name> [--scopes s,...] | list | revoke <name>",
  summary: "create (shown once), list and revoke API keys (AdminService, admin scope)",
  options: { scopes: { type: "string" } },
  async run(ctx, positionals, values) {
    const [sub, ...rest] = positionals;
    const client = ctx.client(AdminService);
    switch (sub) {
      case "create": {
        if (rest.length !== 1) throw new UsageError("keys create needs a name", USAGE);
        const scopes = (optString(values, "scopes") ?? "send,read")
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean);
        const res = await client.createApiKey({ name: rest[0], scopes }, ctx.unary);
        if (ctx.json) return ctx.writeJson(AdminServiceCreateApiKeyResponseSchema, res);
        ctx.write(`${res.key}\n`);
        ctx.io.stderr.write(`created API key ${rest[0]} (scopes ${res.apiKey?.scopes.join(",")}); the key above is not shown again\n`);
        return;
      }
      case "list": {
        if (rest.length) throw new UsageError("keys list takes no arguments", USAGE);
        const res = await client.listApiKeys({}, ctx.unary);
        if (ctx.json) return ctx.writeJson(AdminServiceListApiKeysResponseSchema, res);
        const rows = res.keys.map((k) => [
          k.name,
          `${k.prefix}…`,
          k.scopes.join(","),
          k.revokedAt ? `revoked ${formatTime(k.revokedAt)}` : "active",
          formatTime(k.createdAt),
          formatTime(k.lastUsedAt),
        ]);
        return void ctx.write(formatTable(["NAME", "PREFIX", "SCOPES", "STATUS", "CREATED", "LAST USED"], rows));
      }
      case "revoke": {
        if (rest.length !== 1) throw new UsageError("keys revoke needs a name", USAGE);
        const res = await client.revokeApiKey({ name: rest[0] }, ctx.unary);
        if (ctx.json) ctx.writeJson(AdminServiceRevokeApiKeyResponseSchema, res);
        if (!res.revoked) throw new CommandFailed(`no active API key named ${rest[0]}`);
        if (!ctx.json) ctx.write(`revoked ${rest[0]} (stops working on every node within seconds)\n`);
        return;
      }
      default:
        throw new UsageError(sub ? `unknown keys command ${JSON.stringify(sub)}` : "keys needs create, list or revoke", USAGE);
    }
  },
};
