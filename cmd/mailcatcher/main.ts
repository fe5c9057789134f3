// mailcatcher: dev SMTP sink with a web view and JSON API of the last N caught messages.
import { parseArgs } from "node:util";
import { runService } from "../../internal/app/run-service.js";
import { createLogger } from "../../internal/log/logger.js";
import {
  createMailCatcher,
  DEFAULT_MAX_MESSAGES,
  DEFAULT_SMTP_ADDR,
  DEFAULT_WEB_ADDR,
} from "../../internal/mailcatcher/mailcatcher.js";

const { values } = parseArgs({
  options: {
    "smtp-addr": { type: "string" },
    "web-addr": { type: "string" },
    max: { type: "string" },
    "log-level": { type: "string" },
    help: { type: "boolean", short: "h" },
  },
});

if (values.help) {
  process.stdout.write(`usage: mailcatcher [--smtp-addr HOST:PORT] [--web-addr HOST:PORT] [--max N] [--log-level LEVEL]
env: MAILCATCHER_SMTP_ADDR, MAILCATCHER_WEB_ADDR, MAILCATCHER_MAX, LOG_LEVEL
`);
  process.exit(0);
}

const maxRaw = values.max ?? process.env.MAILCATCHER_MAX;
const max = maxRaw ? Number(maxRaw) : DEFAULT_MAX_MESSAGES;
if (!Number.isInteger(max) || max < 1) {
  process.stderr.write(`mailcatcher: --max must be a positive integer, got "${maxRaw}"\n`);
  process.exit(2);
}

const log = createLogger({ name: "mailcatcher", level: values["log-level"] ?? process.env.LOG_LEVEL ?? "info" });
const catcher = createMailCatcher({
  smtpAddr: values["smtp-addr"] ?? process.env.MAILCATCHER_SMTP_ADDR ?? DEFAULT_SMTP_ADDR,
  webAddr: values["web-addr"] ?? process.env.MAILCATCHER_WEB_ADDR ?? DEFAULT_WEB_ADDR,
  max,
  log,
});

await runService("mailcatcher", catcher, log);
