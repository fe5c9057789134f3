import type { Config } from "../config/config.js";
import type { Logger } from "../log/logger.js";
import { createDb, type Db } from "../store/db.js";
import { connectBus, ensureStreams, type Bus } from "../bus/nats.js";
import { createTopology, type Topology } from "../bus/topology.js";
import { createTemplateCatalog, type TemplateCatalog } from "../template/index.js";
import { createUsersClient, type UsersClient } from "../users/client.js";
import { createApiKeyStore, type ApiKeyStore } from "../auth/api-keys.js";
import { createChannels } from "../channel/registry.js";
import type { Channel } from "../channel/channel.js";

/** Every long-lived dependency, built in one place; tests pass overrides instead of patching modules. */
export interface AppContext {
  cfg: Config;
  log: Logger;
  db: Db;
  bus: Bus;
  topology: Topology;
  templates: TemplateCatalog;
  users: UsersClient;
  apiKeys: ApiKeyStore;
  channels: Map<string, Channel>;
  /** Closes everything in the reverse order of creation. */
  close(): Promise<void>;
}

export type AppOverrides = Partial<Pick<AppContext, "users" | "channels">>;

export async function createAppContext(cfg: Config, log: Logger, overrides: AppOverrides = {}): Promise<AppContext> {
  const closers: (() => Promise<void> | void)[] = [];
  try {
    const db = createDb({ url: cfg.db.url, poolSize: cfg.db.poolSize });
    closers.push(() => db.end());
    const topology = createTopology(cfg.nats.prefix);
    const bus = await connectBus({ url: cfg.nats.url, topology, replicas: cfg.nats.replicas, name: `notifyd:${cfg.roles.join(",")}`, log });
    closers.push(() => bus.close());
    await ensureStreams(bus.jsm, topology, cfg.nats.replicas);
    const templates = createTemplateCatalog({ db, log: log.child({ area: "template" }) });
    const users =
      overrides.users ??
      createUsersClient({ ...cfg.users, log: log.child({ area: "users" }) });
    if (!overrides.users) closers.push(() => users.close());
    const apiKeys = createApiKeyStore(db);
    const channels = overrides.channels ?? createChannels({ cfg, log, db, bus });
    if (!overrides.channels) closers.push(async () => { for (const c of channels.values()) await c.close(); });
    return {
      cfg,
      log,
      db,
      bus,
      topology,
      templates,
      users,
      apiKeys,
      channels,
      async close() {
        for (const c of closers.reverse()) {
          try {
            await c();
          } catch (err) {
            log.warn({ err: (err as Error).message }, "error while closing");
          }
        }
      },
    };
  } catch (err) {
    for (const c of closers.reverse()) await Promise.resolve(c()).catch(() => undefined);
    throw err;
  }
}
