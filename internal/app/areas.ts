import type { Area } from "./area.js";
import { reliabilityArea } from "../reliability/area.js";
import { eventsArea } from "../events/area.js";
import { settingsArea } from "../settings/area.js";
import { adminArea } from "../admin/area.js";
import { preferenceArea } from "../preference/area.js";
import { gatewayArea } from "../gateway/area.js";
import { campaignArea } from "../campaign/area.js";
import { metricsArea } from "../ops/area.js";

/**
 * The areas plugged into notifyd, in start order. Adding an area is one import and one entry here.
 */
export const AREAS: Area[] = [reliabilityArea, adminArea, preferenceArea, metricsArea, campaignArea, gatewayArea, settingsArea, eventsArea];
