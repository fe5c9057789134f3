// bench:recovery — time from an SMTP relay's recovery to full send rate. The relay answers 421 for a
// while (the breaker opens, workers pause), then recovers; the send rate seen at the sink, second by
// second, shows the probe finding it back and the ramp from NOTIFY_RAMP_START_PERCENT to 100% over
// NOTIFY_RAMP_DURATION. Target: full rate reached as configured ±20%.
import { NotificationService } from "../gen/notify/v1/notification_service_pb.js";
import { createConnectClient } from "../internal/rpc/connect-client.js";
import { generateKey } from "../internal/auth/api-keys.js";
import { dropDatabase, ensureDatabase } from "../internal/store/db.js";
import { deleteStreams } from "../test/harness/platform.js";
import { migrate } from "../internal/store/migrate.js";
import { freePorts } from "../test/harness/ports.js";
import { spawnNode } from "../test/harness/processes.js";
import { startSmtpSink } from "../test/harness/smtp-sink.js";
import { table } from "./lib/stats.js";
import { dbUrlFor, mariadbTransport } from "./lib/mariadb.js";

const RATE = Number(process.env.BENCH_RECOVERY_RATE ?? 100);
const RAMP_S = Number(process.env.BENCH_RAMP_SECONDS ?? 10);
const START_PCT = 10;
const PROBE_S = 1;
const OUTAGE_S = 6;

const sink = await startSmtpSink();
const name = `bench_recovery_${Date.now().toString(36)}`;
const dbUrl = dbUrlFor(name);
await ensureDatabase(dbUrl);
await migrate(dbUrl);
const [grpcPort, httpPort] = await freePorts(2);
const apiKey = generateKey();
const node = spawnNode(
  "cmd/notifyd/main.ts",
  [],
  {
    NOTIFY_DB_URL: dbUrl,
    NOTIFY_NATS_PREFIX: name.replace(/_/g, ""),
    NOTIFY_GRPC_ADDR: `127.0.0.1:${grpcPort}`,
    NOTIFY_HTTP_ADDR: `127.0.0.1:${httpPort}`,
    NOTIFY_SMTP_URL: sink.url,
    NOTIFY_SMTP_RATE: String(RATE),
    NOTIFY_BREAKER_THRESHOLD: "5",
    NOTIFY_BREAKER_WINDOW: "5s",
    NOTIFY_BREAKER_PROBE: `${PROBE_S}s`,
    NOTIFY_RAMP_DURATION: `${RAMP_S}s`,
    NOTIFY_RAMP_START_PERCENT: String(START_PCT),
    NOTIFY_RETRY_BACKOFF: "1s,1s,1s,1s,1s,1s,1s,1s",
    NOTIFY_BOOTSTRAP_API_KEY: apiKey,
    NOTIFY_MIGRATE_ON_START: "false",
    NOTIFY_LOG_LEVEL: "info",
  },
  { name: "notifyd-recovery", logFile: true },
);
try {
  await node.waitForLine("notifyd started", 60_000);
  const client = createConnectClient(NotificationService, { baseUrl: `http://127.0.0.1:${grpcPort}`, apiKey });
  // A backlog larger than the whole run can drain, so the rate is limited by the platform, not the load.
  const total = RATE * (RAMP_S + OUTAGE_S + 25);
  for (let i = 0; i < total; i += 1000) {
    await client.sendBatch({
      items: Array.from({ length: Math.min(1000, total - i) }, (_, j) => ({
        idempotencyKey: `rec-${i + j}`,
        template: "plain",
        recipients: [{ target: { case: "email" as const, value: `r${i + j}@example.test` } }],
        data: { subject: `Recovery ${i + j}`, body: "b" },
      })),
    });
  }
  await new Promise((r) => setTimeout(r, 5000));
  sink.setMode({ kind: "tempfail", code: 421, at: "mail" });
  await new Promise((r) => setTimeout(r, OUTAGE_S * 1000));
  const before = sink.messages().length;
  sink.setMode({ kind: "ok" });
  const recoveredAt = Date.now();
  const perSecond: number[] = [];
  let last = before;
  for (let s = 0; s < RAMP_S + 10; s++) {
    await new Promise((r) => setTimeout(r, 1000));
    const n = sink.messages().length;
    perSecond.push(n - last);
    last = n;
  }
  // Full rate: the first second from which three consecutive seconds reach 90% of the configured rate.
  let full = -1;
  for (let s = 0; s + 2 < perSecond.length; s++) {
    if (perSecond.slice(s, s + 3).every((x) => x >= 0.9 * RATE)) {
      full = s + 1;
      break;
    }
  }
  // Linear ramp from START_PCT to 100% reaches 90% at (0.9 - start) / (1 - start) of the duration.
  const expected = PROBE_S + ((0.9 - START_PCT / 100) / (1 - START_PCT / 100)) * RAMP_S;
  process.stdout.write(
    `\nbench:recovery  rate ${RATE}/s, ramp ${START_PCT}% -> 100% over ${RAMP_S}s, probe every ${PROBE_S}s, outage ${OUTAGE_S}s (SMTP 421); MariaDB over ${mariadbTransport}\n\n` +
      `per-second sends after recovery: ${perSecond.join(" ")}\n\n` +
      table([
        {
          measure: "time from recovery to 90% of the rate",
          "seconds": full < 0 ? "not reached" : full,
          "expected (probe + ramp)": +expected.toFixed(1),
          "within ±20%": full > 0 && Math.abs(full - expected) <= 0.2 * expected ? "yes" : "no",
        },
      ]) +
      `\n(recovered at ${new Date(recoveredAt).toISOString()})\n`,
  );
} finally {
  await node.stop({ timeoutMs: 15_000 });
  await sink.close();
  await dropDatabase(dbUrl).catch(() => undefined);
  await deleteStreams(name.replace(/_/g, "")).catch(() => undefined);
}
process.exit(0);
