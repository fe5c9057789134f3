#!/usr/bin/env node
// notifyd: the notification platform server. One binary, several roles (api, relay, planner,
// worker, scheduler, gateway); `notifyd migrate` applies the database migrations.
import { parseArgs } from "node:util";
import { setFlagsFromString } from "node:v8";
import { ALL_ROLES, ConfigError, CONFIG_KEYS, loadConfig } from "../../internal/config/config.js";
import { createLogger } from "../../internal/log/logger.js";
import { ensureDatabase } from "../../internal/store/db.js";
import { migrate } from "../../internal/store/migrate.js";
import { createAppContext } from "../../internal/app/context.js";
import { startRuntime } from "../../internal/app/runtime.js";
import { generateKey, SCOPES, type Scope } from "../../internal/auth/api-keys.js";
import { ensureFirstAdmin } from "../../internal/admin/bootstrap.js";
import { createAdminUserStore } from "../../internal/admin/users.js";

const USAGE = `usage: notifyd [serve] [--roles=${ALL_ROLES.join(",")}]
       notifyd migrate
       notifyd keys create <name> [--scopes=send,read]
       notifyd keys list | keys revoke <name>
environment: ${CONFIG_KEYS.join(", ")}, NOTIFY_CHANNEL_<NAME>_<KEY>`;

async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { roles: { type: "string" }, scopes: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const env = { ...process.env };
  if (values.roles) env.NOTIFY_ROLES = values.roles;
  let cfg;
  try {
    cfg = loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`notifyd: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const log = createLogger({ level: cfg.logLevel, name: "notifyd" });
  // V8 reads this at every full collection, so setting it now applies to the whole run.
  if (cfg.heapGrowthPercent > 0) setFlagsFromString(`--heap-growing-percent=${cfg.heapGrowthPercent}`);
  const [cmd = "serve", ...rest] = positionals;

  if (cmd === "migrate" || (cmd === "serve" && cfg.db.migrateOnStart)) {
    await ensureDatabase(cfg.db.url);
    const applied = await migrate(cfg.db.url, log);
    log.info({ applied: applied.length }, "database schema up to date");
    if (cmd === "migrate") return 0;
  }

  if (cmd === "keys") {
    return keysCommand(cfg, log, rest, values.scopes);
  }
  if (cmd !== "serve") {
    process.stderr.write(`notifyd: unknown command "${cmd}"\n${USAGE}\n`);
    return 2;
  }

  const ctx = await createAppContext(cfg, log);
  await bootstrapKey(ctx, cfg.bootstrapApiKey);
  await bootstrapAdmin(ctx);
  const rt = await startRuntime(ctx);
  log.info({ roles: cfg.roles }, "notifyd started");

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    const hard = setTimeout(() => {
      log.error("shutdown took too long; exiting");
      process.exit(1);
    }, cfg.shutdownGraceMs + 10_000);
    hard.unref();
    await rt.stop();
    await ctx.close();
    log.info("stopped");
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  return undefined;
}

async function bootstrapKey(ctx: Awaited<ReturnType<typeof createAppContext>>, key: string | undefined) {
  const scopes: Scope[] = ["send", "read", "admin"];
  if (key) {
    await ctx.apiKeys.ensure("bootstrap", scopes, key);
    return;
  }
  const existing = await ctx.apiKeys.list();
  if (existing.length > 0) return;
  const { key: fresh } = await ctx.apiKeys.create("bootstrap", scopes, generateKey());
  // Printed once, to the terminal only, never to the JSON log stream.
  process.stderr.write(`\nnotifyd: created the first API key (scopes ${scopes.join(",")}):\n\n  ${fresh}\n\nKeep it; it is not shown again.\n\n`);
}

async function bootstrapAdmin(ctx: Awaited<ReturnType<typeof createAppContext>>) {
  const r = await ensureFirstAdmin(createAdminUserStore(ctx.db), {
    email: ctx.cfg.admin.bootstrapEmail,
    password: ctx.cfg.admin.bootstrapPassword,
  });
  if (!r) return;
  ctx.log.info({ email: r.email }, "created the first admin user");
  if (r.generatedPassword) {
    // Printed once, to the terminal only, never to the JSON log stream.
    process.stderr.write(
      `\nnotifyd: created the first admin user for ${ctx.cfg.publicUrl}/admin/\n\n  email:    ${r.email}\n  password: ${r.generatedPassword}\n\nChange it after signing in; it is not shown again.\n\n`,
    );
  }
}

async function keysCommand(cfg: ReturnType<typeof loadConfig>, log: ReturnType<typeof createLogger>, args: string[], scopesArg?: string) {
  const { createDb } = await import("../../internal/store/db.js");
  const { createApiKeyStore } = await import("../../internal/auth/api-keys.js");
  const db = createDb({ url: cfg.db.url, poolSize: 2 });
  const store = createApiKeyStore(db);
  try {
    const [sub, name] = args;
    if (sub === "create" && name) {
      const scopes = (scopesArg ?? "send,read").split(",").map((s) => s.trim()) as Scope[];
      const bad = scopes.filter((s) => !SCOPES.includes(s));
      if (bad.length) {
        process.stderr.write(`notifyd: unknown scope(s) ${bad.join(",")}; known: ${SCOPES.join(",")}\n`);
        return 2;
      }
      const { key } = await store.create(name, scopes);
      process.stdout.write(`${key}\n`);
      return 0;
    }
    if (sub === "list") {
      for (const k of await store.list()) {
        process.stdout.write(`${k.name}\t${k.prefix}…\t${k.scopes.join(",")}\t${k.revokedAt ? "revoked" : "active"}\n`);
      }
      return 0;
    }
    if (sub === "revoke" && name) {
      const ok = await store.revoke(name);
      process.stdout.write(ok ? `revoked ${name}\n` : `no active key named ${name}\n`);
      return ok ? 0 : 1;
    }
    process.stderr.write(`${USAGE}\n`);
    return 2;
  } finally {
    await db.end();
    void log;
  }
}

main().then(
  (code) => {
    if (code !== undefined) process.exit(code);
  },
  (err) => {
    process.stderr.write(`notifyd: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);
