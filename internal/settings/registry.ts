import type { Config } from "../config/config.js";
import { linkSettings } from "../links/settings.js";
import type { SettingDef } from "./settings.js";

/**
 * Every run-time setting the platform knows, grouped by area. A new group is one line here; the
 * SettingsService lists and validates exactly these keys.
 */
export const SETTING_GROUPS: ((cfg: Config) => SettingDef[])[] = [(cfg) => linkSettings(cfg.homeUrl)];

export function settingDefinitions(cfg: Config): SettingDef[] {
  return SETTING_GROUPS.flatMap((g) => g(cfg));
}
