import type { Bus } from "../bus/nats.js";
import type { Config } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import type { Db } from "../store/db.js";
import type { Channel } from "./channel.js";
import { createEmailChannel } from "./email.js";
import { createWebsocketChannel } from "./websocket.js";
import { smsChannelFromSettings } from "./sms.js";

export interface ChannelFactoryDeps {
  cfg: Config;
  log: Logger;
  /** For channels that keep state of their own (the websocket channel's inbox). */
  db: Db;
  /** For channels that hand off over NATS (the websocket channel publishes to the gateways). */
  bus: Bus;
}

/**
 * Every channel the platform can deliver on. A new channel is one file exporting a factory and one
 * line here; a factory returns undefined when its settings are absent (the channel is then off).
 */
export const CHANNEL_FACTORIES: Record<string, (d: ChannelFactoryDeps) => Channel | undefined> = {
  email: ({ cfg, log }) => createEmailChannel({ ...cfg.smtp, dkim: cfg.dkim }, { log }),
  websocket: ({ cfg, log, db, bus }) => createWebsocketChannel({ settings: cfg.channelSettings.websocket ?? {}, log, db, bus }),
  sms: ({ cfg, log }) => smsChannelFromSettings(cfg.channelSettings.sms ?? {}, { log }),
};

export function createChannels(d: ChannelFactoryDeps, only?: string[]): Map<string, Channel> {
  const out = new Map<string, Channel>();
  for (const [name, make] of Object.entries(CHANNEL_FACTORIES)) {
    if (only && !only.includes(name)) continue;
    const ch = make(d);
    if (ch) out.set(name, ch);
  }
  return out;
}
