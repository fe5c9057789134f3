// users-demo: a reference cinema.users.v1.UserDirectory over its own MariaDB table, with fault injection
// (DemoAdminService) for tests, benchmarks and demos.
import { parseArgs } from "node:util";
import { runService } from "../../internal/app/run-service.js";
import { createLogger } from "../../internal/log/logger.js";
import {
  createUsersDemo,
  DEFAULT_USERS_DEMO_ADDR,
  DEFAULT_USERS_DEMO_DB_URL,
  DEFAULT_USERS_DEMO_USERS,
} from "../../internal/usersdemo/users-demo.js";

const { values } = parseArgs({
  options: {
    "db-url": { type: "string" },
    addr: { type: "string" },
    users: { type: "string" },
    "latency-ms": { type: "string" },
    "error-rate": { type: "string" },
    down: { type: "boolean" },
    "log-level": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  process.stdout.write(`usage: users-demo [--db-url URL] [--addr HOST:PORT] [--users N]
                  [--latency-ms MS] [--error-rate 0..1] [--down] [--log-level LEVEL]
env: USERS_DEMO_DB_URL, USERS_DEMO_ADDR, USERS_DEMO_USERS, LOG_LEVEL
`);
  process.exit(0);
}

function num(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) {
    process.stderr.write(`users-demo: ${name} must be a number, got "${raw}"\n`);
    process.exit(2);
  }
  return n;
}

const log = createLogger({ name: "users-demo", level: values["log-level"] ?? process.env.LOG_LEVEL ?? "info" });
const demo = createUsersDemo({
  dbUrl: values["db-url"] ?? process.env.USERS_DEMO_DB_URL ?? DEFAULT_USERS_DEMO_DB_URL,
  addr: values.addr ?? process.env.USERS_DEMO_ADDR ?? DEFAULT_USERS_DEMO_ADDR,
  users: num("--users", values.users ?? process.env.USERS_DEMO_USERS, DEFAULT_USERS_DEMO_USERS),
  log,
  faults: {
    latencyMs: num("--latency-ms", values["latency-ms"], 0),
    errorRate: num("--error-rate", values["error-rate"], 0),
    down: values.down ?? false,
  },
});

await runService("users-demo", demo, log);
