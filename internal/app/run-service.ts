import type { Logger } from "../log/logger.js";

/**
 * Starts a long-running service and stops it cleanly on SIGTERM or SIGINT (exit 0), or exits 1 when it
 * cannot start or stop. The small binaries (users-demo, mailcatcher) share this life cycle.
 */
export async function runService(name: string, svc: { start(): Promise<unknown>; close(): Promise<unknown> }, log: Logger) {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, "shutting down");
    try {
      await svc.close();
      process.exit(0);
    } catch (err) {
      log.error({ err }, "shutdown failed");
      process.exit(1);
    }
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));
  try {
    await svc.start();
  } catch (err) {
    log.fatal({ err }, `${name} failed to start`);
    process.exit(1);
  }
}
