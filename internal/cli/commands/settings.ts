import { toJson, type JsonObject, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema, type Value } from "@bufbuild/protobuf/wkt";
import {
  SettingsService,
  SettingsServiceGetSettingsResponseSchema,
  SettingsServiceUpdateSettingsResponseSchema,
  type Setting,
} from "../../../gen/notify/v1/settings_service_pb.js";
import { UsageError } from "../errors.js";
import type { CliContext, Command } from "../context.js";
import { formatTable, formatTime, truncate } from "../output.js";

const USAGE = [
  "notifyctl settings get [key...]",
  "       notifyctl settings set <key> <value> [<key> <value>...]   (value: JSON, or else taken as text)",
  "       notifyctl settings reset <key>...                          (back to the default)",
].join("\n");

export const settingsCommand: Command = {
  name: "settings",
  usage: "get [key...] | set <key> <value>... | reset <key>...",
  summary: "read and change run-time settings (SettingsService)",
  async run(ctx, positionals) {
    const [sub, ...rest] = positionals;
    const client = ctx.client(SettingsService);
    switch (sub) {
      case "get": {
        const res = await client.getSettings({ keys: rest }, ctx.unary);
        if (ctx.json) return ctx.writeJson(SettingsServiceGetSettingsResponseSchema, res);
        return print(ctx, res.settings);
      }
      case "set":
      case "reset": {
        const values: Record<string, JsonValue> = {};
        if (sub === "set") {
          if (rest.length === 0 || rest.length % 2 !== 0) throw new UsageError("settings set takes <key> <value> pairs", USAGE);
          for (let i = 0; i < rest.length; i += 2) values[rest[i]] = parseValue(rest[i + 1]);
        } else {
          if (rest.length === 0) throw new UsageError("settings reset needs at least one key", USAGE);
          for (const k of rest) values[k] = null;
        }
        const res = await client.updateSettings({ values: values as JsonObject }, ctx.unary);
        if (ctx.json) return ctx.writeJson(SettingsServiceUpdateSettingsResponseSchema, res);
        return print(ctx, res.settings.filter((s) => s.key in values));
      }
      default:
        throw new UsageError(sub ? `unknown settings command ${JSON.stringify(sub)}` : "settings needs get, set or reset", USAGE);
    }
  },
};

/** JSON when it parses (numbers, true, arrays, objects, "quoted"), otherwise the text itself. */
function parseValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

const show = (v: Value | undefined) => (v ? JSON.stringify(toJson(ValueSchema, v)) : "-");

function print(ctx: CliContext, settings: Setting[]) {
  const rows = settings.map((s) => [
    s.key,
    truncate(show(s.value), 60),
    s.isDefault ? "(default)" : truncate(show(s.defaultValue), 40),
    s.isDefault ? "-" : `${formatTime(s.updatedAt)} ${s.updatedBy}`.trim(),
  ]);
  ctx.write(formatTable(["KEY", "VALUE", "DEFAULT", "CHANGED"], rows));
}
