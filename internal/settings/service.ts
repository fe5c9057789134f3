import { create, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromDate, ValueSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { SettingSchema, type SettingsService } from "../../gen/notify/v1/settings_service_pb.js";
import { callerName, type Requirement } from "../auth/interceptor.js";
import type { Settings, SettingView } from "./settings.js";

export const SETTINGS_RULES: Record<string, Requirement> = {
  "notify.v1.SettingsService/GetSettings": { scope: "read" },
  "notify.v1.SettingsService/UpdateSettings": { scope: "admin" },
};

const toMessage = (v: SettingView) =>
  create(SettingSchema, {
    key: v.key,
    value: fromJson(ValueSchema, v.value),
    defaultValue: fromJson(ValueSchema, v.defaultValue),
    description: v.description,
    isDefault: v.isDefault,
    updatedAt: v.updatedAt ? timestampFromDate(v.updatedAt) : undefined,
    updatedBy: v.updatedBy,
  });

/** Thin handlers over the settings store. */
export function createSettingsService(settings: Settings): ServiceImpl<typeof SettingsService> {
  return {
    async getSettings(req) {
      return { settings: (await settings.list(req.keys)).map(toMessage) };
    },
    async updateSettings(req, ctx) {
      const values = (req.values ?? {}) as Record<string, JsonValue>;
      return { settings: (await settings.update(values, callerName(ctx))).map(toMessage) };
    },
  };
}

