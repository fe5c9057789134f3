import { SettingsService } from "../../gen/notify/v1/settings_service_pb.js";
import type { Area } from "../app/area.js";
import { settingDefinitions } from "./registry.js";
import { createSettingsService, SETTINGS_RULES } from "./service.js";
import { createSettings } from "./settings.js";

/** SettingsService on the api role; every node's readers drop their cache when a value changes. */
export const settingsArea: Area = {
  name: "settings",
  setup(s) {
    if (!s.roles.has("api")) return;
    const { ctx } = s;
    const settings = createSettings({
      db: ctx.db,
      defs: settingDefinitions(ctx.cfg),
      log: ctx.log.child({ area: "settings" }),
      nc: ctx.bus.nc,
      subject: ctx.topology.subjects.settingsChanged,
    });
    s.addService((r) => r.service(SettingsService, createSettingsService(settings)), SETTINGS_RULES);
    return {
      async stop() {
        settings.close();
      },
    };
  },
};
