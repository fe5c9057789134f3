import type { Command } from "../context.js";
import { callCommand } from "./call.js";
import { campaignCommand } from "./campaign.js";
import { describeCommand } from "./describe.js";
import { dlqCommand } from "./dlq.js";
import { healthCommand } from "./health.js";
import { historyCommand } from "./history.js";
import { keysCommand } from "./keys.js";
import { sendCommand } from "./send.js";
import { servicesCommand } from "./services.js";
import { settingsCommand } from "./settings.js";
import { statusCommand } from "./status.js";
import { templatesCommand } from "./templates.js";

/**
 * Every notifyctl command, in the order `notifyctl help` lists them. A new command (dlq, campaign,
 * settings, keys, ...) is one module in this folder plus one line here.
 */
export const commands: readonly Command[] = [
  servicesCommand,
  describeCommand,
  callCommand,
  healthCommand,
  sendCommand,
  statusCommand,
  historyCommand,
  templatesCommand,
  campaignCommand,
  dlqCommand,
  settingsCommand,
  keysCommand,
];
