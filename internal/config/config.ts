import { createPrivateKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { z } from "zod";

export const ALL_ROLES = ["api", "relay", "planner", "worker", "scheduler", "gateway"] as const;
export type Role = (typeof ALL_ROLES)[number];

const durationList = z
  .string()
  .transform((s, ctx) => {
    const out: number[] = [];
    for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
      const ms = parseDuration(part);
      if (ms === undefined) {
        ctx.addIssue({ code: "custom", message: `"${part}" is not a duration like 500ms, 10s, 2m, 1h` });
        return z.NEVER;
      }
      out.push(ms);
    }
    return out;
  });

const duration = z.string().transform((s, ctx) => {
  const ms = parseDuration(s.trim());
  if (ms === undefined) {
    ctx.addIssue({ code: "custom", message: `"${s}" is not a duration like 500ms, 10s, 2m, 1h` });
    return z.NEVER;
  }
  return ms;
});

export function parseDuration(s: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(s);
  if (!m) return undefined;
  const n = Number(m[1]);
  return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as "ms" | "s" | "m" | "h"]);
}

const hostPort = z.string().regex(/^[^:\s]+:\d{1,5}$/, "expected host:port, e.g. 127.0.0.1:50051");
const mysqlUrl = z
  .string()
  .regex(/^mysql:\/\/[^/\s]+\/\w+(\?socketPath=\/[^\s&]+)?$/, "expected mysql://user[:pass]@host:port/database[?socketPath=/path/to/mysqld.sock]");
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");

/** Every setting, its env var, and its default. The README's config table mirrors this list. */
const schema = z.object({
  NOTIFY_ROLES: z
    .string()
    .default(ALL_ROLES.join(","))
    .transform((s, ctx) => {
      const roles = s.split(",").map((r) => r.trim()).filter(Boolean);
      const bad = roles.filter((r) => !(ALL_ROLES as readonly string[]).includes(r));
      if (bad.length) {
        ctx.addIssue({ code: "custom", message: `unknown role(s) ${bad.join(", ")}; known: ${ALL_ROLES.join(", ")}` });
        return z.NEVER;
      }
      return roles as Role[];
    }),
  NOTIFY_DB_URL: mysqlUrl.default("mysql://root@127.0.0.1:3306/notify"),
  NOTIFY_DB_POOL: int(1, 512).default(32),
  NOTIFY_MIGRATE_ON_START: bool.default(true),
  NOTIFY_NATS_URL: z.string().default("nats://127.0.0.1:4222"),
  NOTIFY_NATS_PREFIX: z.string().regex(/^[a-z][a-z0-9_]{0,30}$/, "lowercase letters, digits, _ (max 31)").default("notify"),
  NOTIFY_NATS_REPLICAS: int(1, 5).default(1),
  NOTIFY_GRPC_ADDR: hostPort.default("127.0.0.1:50051"),
  NOTIFY_GRPC_SERVER: z.enum(["grpc-js", "connect"]).default("grpc-js"),
  NOTIFY_HTTP_ADDR: hostPort.default("127.0.0.1:8080"),
  NOTIFY_PUBLIC_URL: z.url().default("http://127.0.0.1:8080"),
  NOTIFY_MAX_REQUEST_BYTES: int(1024, 64 * 1024 * 1024).default(4 * 1024 * 1024),
  NOTIFY_HOME_URL: z.url({ protocol: /^https?$/ }).default("https://cinema.example/"),
  NOTIFY_LINK_TTL: duration.default(72 * 3_600_000),
  NOTIFY_BOOTSTRAP_API_KEY: z.string().min(24, "at least 24 characters").optional(),
  NOTIFY_SMTP_URL: z.string().regex(/^smtps?:\/\//, "expected smtp://[user:pass@]host:port").default("smtp://127.0.0.1:1025"),
  NOTIFY_SMTP_FALLBACK_URL: z.string().regex(/^smtps?:\/\//, "expected smtp://[user:pass@]host:port").optional(),
  NOTIFY_SMTP_POOL: int(1, 64).default(4),
  NOTIFY_SMTP_RATE: int(1, 100_000).default(500),
  NOTIFY_MAIL_FROM: z.string().default("Cinema <no-reply@cinema.example>"),
  NOTIFY_MAIL_DOMAIN: z.string().default("cinema.example"),
  NOTIFY_DKIM_DOMAIN: z.string().regex(/^[A-Za-z0-9.-]+$/, "a domain name, e.g. cinema.example").optional(),
  NOTIFY_DKIM_SELECTOR: z.string().regex(/^[A-Za-z0-9._-]+$/, "a DKIM selector, e.g. mail2025").optional(),
  NOTIFY_DKIM_PRIVATE_KEY: z.string().optional(),
  NOTIFY_DKIM_KEY_FILE: z.string().optional(),
  NOTIFY_USERS_ADDR: hostPort.default("127.0.0.1:50061"),
  NOTIFY_USERS_REPLICA_ADDR: hostPort.optional(),
  NOTIFY_USERS_RATE: int(1, 100_000).default(200),
  NOTIFY_USERS_CONCURRENCY: int(1, 256).default(8),
  NOTIFY_USERS_BATCH: int(1, 500).default(100),
  NOTIFY_USERS_CACHE_TTL: duration.default(5000),
  NOTIFY_USERS_CACHE_MAX: int(0, 1_000_000).default(2000),
  NOTIFY_USERS_TIMEOUT: duration.default(3000),
  NOTIFY_RETRY_BACKOFF: durationList.default([10_000, 30_000, 120_000, 600_000, 3_600_000]),
  NOTIFY_WORKER_BATCH: int(1, 1000).default(128),
  NOTIFY_DELIVERY_CHUNK: int(1, 256).default(32),
  NOTIFY_LEASE: duration.default(60_000),
  NOTIFY_ACK_WAIT: duration.default(30_000),
  NOTIFY_RELAY_BATCH: int(1, 5000).default(500),
  NOTIFY_RELAY_POLL: duration.default(1000),
  NOTIFY_PLAN_HANDOFF: duration.default(5000),
  NOTIFY_LOCAL_DELIVERY: bool.default(true),
  NOTIFY_RECONCILE_AFTER: duration.default(300_000),
  NOTIFY_RECONCILE_EVERY: duration.default(30_000),
  NOTIFY_BREAKER_THRESHOLD: int(1, 10_000).default(5),
  NOTIFY_BREAKER_WINDOW: duration.default(10_000),
  NOTIFY_BREAKER_PROBE: duration.default(5000),
  NOTIFY_RAMP_DURATION: duration.default(60_000),
  NOTIFY_RAMP_START_PERCENT: int(1, 100).default(10),
  NOTIFY_SHUTDOWN_GRACE: duration.default(10_000),
  // Campaigns (scheduler role): poll, run lease, audience page size, limits, misfire grace, local-time zones.
  NOTIFY_CAMPAIGN_POLL: duration.default(1000),
  NOTIFY_CAMPAIGN_LEASE: duration.default(15_000),
  NOTIFY_CAMPAIGN_PAGE_SIZE: int(1, 5000).default(1000),
  NOTIFY_CAMPAIGN_MAX_RATE: int(1, 1_000_000).default(10_000),
  NOTIFY_CAMPAIGN_MAX_AUDIENCE_IDS: int(1, 100_000_000).default(1_000_000),
  NOTIFY_CAMPAIGN_MISFIRE_GRACE: duration.default(60_000),
  NOTIFY_CAMPAIGN_CONCURRENCY: int(1, 64).default(2),
  NOTIFY_CAMPAIGN_MAX_BACKLOG: int(100, 10_000_000).default(5000),
  NOTIFY_CAMPAIGN_TIME_ZONES: z
    .string()
    .optional()
    .transform((s, ctx) => {
      const zones = (s ?? "").split(",").map((z) => z.trim()).filter(Boolean);
      const bad = zones.filter((z) => {
        try {
          new Intl.DateTimeFormat("en", { timeZone: z });
          return false;
        } catch {
          return true;
        }
      });
      if (bad.length) {
        ctx.addIssue({ code: "custom", message: `unknown time zone(s) ${bad.join(", ")}` });
        return z.NEVER;
      }
      return zones.length ? zones : Intl.supportedValuesOf("timeZone");
    }),
  // Prometheus /metrics: always on the api role's HTTP listener; NOTIFY_METRICS_ADDR adds a listener of its own
  // (for processes without the api role). NOTIFY_METRICS_POLL: how often JetStream backlog gauges refresh.
  NOTIFY_METRICS_ADDR: hostPort.optional(),
  NOTIFY_METRICS_POLL: duration.default(5000),
  // The cinema's user JWTs (websocket gateway, InboxService): an HS256 shared secret or a JWKS URL.
  NOTIFY_JWT_SECRET: z.string().min(32, "at least 32 characters").optional(),
  NOTIFY_JWT_JWKS_URL: z.url().optional(),
  NOTIFY_JWT_ISSUER: z.string().optional(),
  NOTIFY_JWT_AUDIENCE: z.string().optional(),
  // Websocket gateway. NOTIFY_WS_ADDR unset: the api role's HTTP listener when it runs, else NOTIFY_HTTP_ADDR.
  NOTIFY_WS_ADDR: hostPort.optional(),
  NOTIFY_WS_ORIGINS: z.string().optional(),
  NOTIFY_WS_MAX_MSGS_PER_SEC: int(1, 10_000).default(20),
  NOTIFY_WS_MAX_BUFFER: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  NOTIFY_WS_HEARTBEAT: duration.default(30_000),
  NOTIFY_WS_MAX_CONNS_PER_USER: int(1, 1000).default(16),
  NOTIFY_WS_BACKLOG: int(0, 500).default(50),
  NOTIFY_BOOTSTRAP_ADMIN_EMAIL: z.email().optional(),
  NOTIFY_BOOTSTRAP_ADMIN_PASSWORD: z.string().min(10, "at least 10 characters").max(200).optional(),
  NOTIFY_ADMIN_SESSION_TTL: duration.default(12 * 3_600_000),
  NOTIFY_ADMIN_DIR: z.string().optional(),
  NOTIFY_LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  NOTIFY_HEAP_GROWTH: int(0, 400).default(100),
});

type Parsed = z.infer<typeof schema>;

export interface Config {
  roles: Role[];
  db: { url: string; poolSize: number; migrateOnStart: boolean };
  nats: { url: string; prefix: string; replicas: number };
  grpcAddr: string;
  /**
   * Who serves the gRPC listener: grpc-js (gRPC only, the cheapest per call) or connect-node (gRPC,
   * Connect and gRPC-Web over h2c). The same service implementations either way.
   */
  grpcServer: "grpc-js" | "connect";
  httpAddr: string;
  publicUrl: string;
  maxRequestBytes: number;
  /** The cinema's home page: default redirect after email confirmation and its allow-listed host. */
  homeUrl: string;
  /** How long a confirmation link works. */
  linkTtlMs: number;
  bootstrapApiKey?: string;
  /** DKIM signing of outgoing mail; unset means unsigned. */
  dkim?: DkimSettings;
  smtp: {
    urls: string[];
    /** Connections per relay: also how many sends are under way at once. */
    pool: number;
    rate: number;
    from: string;
    domain: string;
    /** One circuit breaker per relay; while the primary's is open, mail goes through the fallback. */
    breaker: BreakerSettings;
    /** After a breaker closes, the send rate climbs from startFraction to full over durationMs. */
    ramp: RampSettings;
  };
  users: {
    addr: string;
    replicaAddr?: string;
    rate: number;
    concurrency: number;
    batch: number;
    cacheTtlMs: number;
    cacheMax: number;
    timeoutMs: number;
    breaker: BreakerSettings;
    ramp: RampSettings;
  };
  retry: { backoffMs: number[] };
  /**
   * ackWaitMs: how long an unacknowledged message waits before the broker assumes its worker died.
   * chunk: deliveries per broker message, at most (internal/delivery/chunks.ts); 1: a message each.
   */
  worker: { batch: number; leaseMs: number; ackWaitMs: number; chunk: number };
  relay: { batch: number; pollMs: number };
  /**
   * A process with both the api and planner roles plans its own single Sends; the outbox row of each
   * waits this long before the relay may publish it (the fallback). 0 sends everything through the broker.
   */
  planHandoffMs: number;
  /**
   * A process that plans its own Sends (planHandoffMs) and runs the worker for a channel delivers those
   * Sends' deliveries itself, without the broker's round trip (delivery/local.ts).
   */
  localDelivery: boolean;
  reconcileAfterMs: number;
  /** How often the relay role looks for work the broker may have lost. */
  reconcileEveryMs: number;
  shutdownGraceMs: number;
  /**
   * Campaign scheduler and fan-out. leaseMs: how long a run stays claimed without a heartbeat (a killed
   * fan-out is resumed elsewhere after it); misfireGraceMs: an occurrence older than this when a
   * scheduler sees it counts as missed; timeZones: zones a local-time campaign is evaluated in.
   */
  campaign: {
    pollMs: number;
    leaseMs: number;
    pageSize: number;
    maxRate: number;
    maxAudienceIds: number;
    misfireGraceMs: number;
    concurrency: number;
    /** Deliveries of a run published but not yet handled, at most: the fan-out waits above it. */
    maxBacklog: number;
    timeZones: string[];
  };
  metrics: { addr?: string; pollMs: number };
  logLevel: string;
  /**
   * How far V8 lets the heap grow past the live data before a full collection, in percent; 0 leaves
   * V8's own policy (up to 4x the live data, so a long run settles far above a short one).
   */
  heapGrowthPercent: number;
  /** The admin panel: first admin user (created at start when none exists), session lifetime, built files. */
  admin: { bootstrapEmail?: string; bootstrapPassword?: string; sessionTtlMs: number; staticDir?: string };
  /** Verifying the cinema's user JWTs; neither secret nor jwksUrl means user calls are refused. */
  jwt: { secret?: string; jwksUrl?: string; issuer?: string; audience?: string };
  ws: {
    /** Own listener address; undefined means the api role's HTTP listener (or httpAddr without it). */
    addr?: string;
    /** Allowed Origin values (scheme://host[:port]); "*" allows any. Clients without Origin (apps) pass. */
    origins: string[];
    maxMsgsPerSec: number;
    /** Bytes queued to one slow client before its connection is closed. */
    maxBufferedBytes: number;
    heartbeatMs: number;
    maxConnsPerUser: number;
    /** Unread inbox items sent on connect. */
    backlog: number;
  };
  /** NOTIFY_CHANNEL_<NAME>_<KEY>=value, grouped by channel name and key, both lower-cased. */
  channelSettings: Record<string, Record<string, string>>;
}

/** Opens after `threshold` transient failures within `windowMs`; probes every `probeMs` while open. */
export interface BreakerSettings {
  threshold: number;
  windowMs: number;
  probeMs: number;
}

export interface RampSettings {
  durationMs: number;
  /** 0..1 */
  startFraction: number;
}

/** As nodemailer's dkim option takes it. */
export interface DkimSettings {
  domainName: string;
  keySelector: string;
  privateKey: string;
  headerFieldNames: string;
}

// nodemailer's default list leaves out List-Unsubscribe-Post, and RFC 8058 wants both unsubscribe
// headers signed so nobody can add one-click unsubscribe to mail they relay.
const DKIM_SIGNED_HEADERS =
  "From:Sender:Reply-To:To:Cc:Subject:Date:Message-ID:MIME-Version:Content-Type:Content-Transfer-Encoding:" +
  "List-Unsubscribe:List-Unsubscribe-Post:Auto-Submitted";

function dkimFrom(p: Parsed): DkimSettings | undefined {
  const { NOTIFY_DKIM_DOMAIN: domain, NOTIFY_DKIM_SELECTOR: selector, NOTIFY_DKIM_PRIVATE_KEY: inline, NOTIFY_DKIM_KEY_FILE: file } = p;
  if (!domain && !selector && !inline && !file) return undefined;
  const problems: string[] = [];
  if (!domain) problems.push("NOTIFY_DKIM_DOMAIN: required when DKIM is configured");
  if (!selector) problems.push("NOTIFY_DKIM_SELECTOR: required when DKIM is configured");
  if (inline && file) problems.push("NOTIFY_DKIM_KEY_FILE: set either it or NOTIFY_DKIM_PRIVATE_KEY, not both");
  if (!inline && !file) problems.push("NOTIFY_DKIM_PRIVATE_KEY: required (or NOTIFY_DKIM_KEY_FILE) when DKIM is configured");
  let privateKey = "";
  if (file) {
    try {
      privateKey = readFileSync(file, "utf8");
    } catch (err) {
      problems.push(`NOTIFY_DKIM_KEY_FILE: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else if (inline) {
    // Environment files often carry a PEM on one line with literal \n.
    privateKey = inline.replace(/\\n/g, "\n");
  }
  if (privateKey) {
    try {
      createPrivateKey(privateKey);
    } catch {
      problems.push(`${file ? "NOTIFY_DKIM_KEY_FILE" : "NOTIFY_DKIM_PRIVATE_KEY"}: not a PEM private key`);
    }
  }
  if (problems.length) throw new ConfigError(problems);
  return { domainName: domain!, keySelector: selector!, privateKey, headerFieldNames: DKIM_SIGNED_HEADERS };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
  }
}

/** Turns the environment into a typed config; every bad variable is named in one error. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const input: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const v = env[key];
    if (v !== undefined && v !== "") input[key] = v;
  }
  const r = schema.safeParse(input);
  if (!r.success) {
    throw new ConfigError(r.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`));
  }
  return { ...fromParsed(r.data), channelSettings: channelSettings(env) };
}

function channelSettings(env: Record<string, string | undefined>): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const [k, v] of Object.entries(env)) {
    const m = /^NOTIFY_CHANNEL_([A-Z0-9]+)_([A-Z0-9_]+)$/.exec(k);
    if (!m || v === undefined) continue;
    (out[m[1].toLowerCase()] ??= {})[m[2].toLowerCase()] = v;
  }
  return out;
}

function fromParsed(p: Parsed): Omit<Config, "channelSettings"> {
  const breaker = { threshold: p.NOTIFY_BREAKER_THRESHOLD, windowMs: p.NOTIFY_BREAKER_WINDOW, probeMs: p.NOTIFY_BREAKER_PROBE };
  const ramp = { durationMs: p.NOTIFY_RAMP_DURATION, startFraction: p.NOTIFY_RAMP_START_PERCENT / 100 };
  return {
    roles: p.NOTIFY_ROLES,
    db: { url: p.NOTIFY_DB_URL, poolSize: p.NOTIFY_DB_POOL, migrateOnStart: p.NOTIFY_MIGRATE_ON_START },
    nats: { url: p.NOTIFY_NATS_URL, prefix: p.NOTIFY_NATS_PREFIX, replicas: p.NOTIFY_NATS_REPLICAS },
    grpcAddr: p.NOTIFY_GRPC_ADDR,
    grpcServer: p.NOTIFY_GRPC_SERVER,
    httpAddr: p.NOTIFY_HTTP_ADDR,
    publicUrl: p.NOTIFY_PUBLIC_URL.replace(/\/$/, ""),
    maxRequestBytes: p.NOTIFY_MAX_REQUEST_BYTES,
    homeUrl: p.NOTIFY_HOME_URL,
    linkTtlMs: p.NOTIFY_LINK_TTL,
    bootstrapApiKey: p.NOTIFY_BOOTSTRAP_API_KEY,
    dkim: dkimFrom(p),
    smtp: {
      urls: [p.NOTIFY_SMTP_URL, ...(p.NOTIFY_SMTP_FALLBACK_URL ? [p.NOTIFY_SMTP_FALLBACK_URL] : [])],
      pool: p.NOTIFY_SMTP_POOL,
      rate: p.NOTIFY_SMTP_RATE,
      from: p.NOTIFY_MAIL_FROM,
      domain: p.NOTIFY_MAIL_DOMAIN,
      breaker,
      ramp,
    },
    users: {
      addr: p.NOTIFY_USERS_ADDR,
      replicaAddr: p.NOTIFY_USERS_REPLICA_ADDR,
      rate: p.NOTIFY_USERS_RATE,
      concurrency: p.NOTIFY_USERS_CONCURRENCY,
      batch: p.NOTIFY_USERS_BATCH,
      cacheTtlMs: p.NOTIFY_USERS_CACHE_TTL,
      cacheMax: p.NOTIFY_USERS_CACHE_MAX,
      timeoutMs: p.NOTIFY_USERS_TIMEOUT,
      breaker,
      ramp,
    },
    retry: { backoffMs: p.NOTIFY_RETRY_BACKOFF },
    worker: { batch: p.NOTIFY_WORKER_BATCH, leaseMs: p.NOTIFY_LEASE, ackWaitMs: p.NOTIFY_ACK_WAIT, chunk: p.NOTIFY_DELIVERY_CHUNK },
    relay: { batch: p.NOTIFY_RELAY_BATCH, pollMs: p.NOTIFY_RELAY_POLL },
    planHandoffMs: p.NOTIFY_PLAN_HANDOFF,
    localDelivery: p.NOTIFY_LOCAL_DELIVERY,
    reconcileAfterMs: p.NOTIFY_RECONCILE_AFTER,
    reconcileEveryMs: p.NOTIFY_RECONCILE_EVERY,
    shutdownGraceMs: p.NOTIFY_SHUTDOWN_GRACE,
    campaign: {
      pollMs: p.NOTIFY_CAMPAIGN_POLL,
      leaseMs: p.NOTIFY_CAMPAIGN_LEASE,
      pageSize: p.NOTIFY_CAMPAIGN_PAGE_SIZE,
      maxRate: p.NOTIFY_CAMPAIGN_MAX_RATE,
      maxAudienceIds: p.NOTIFY_CAMPAIGN_MAX_AUDIENCE_IDS,
      misfireGraceMs: p.NOTIFY_CAMPAIGN_MISFIRE_GRACE,
      concurrency: p.NOTIFY_CAMPAIGN_CONCURRENCY,
      maxBacklog: p.NOTIFY_CAMPAIGN_MAX_BACKLOG,
      timeZones: p.NOTIFY_CAMPAIGN_TIME_ZONES,
    },
    metrics: { addr: p.NOTIFY_METRICS_ADDR, pollMs: p.NOTIFY_METRICS_POLL },
    logLevel: p.NOTIFY_LOG_LEVEL,
    heapGrowthPercent: p.NOTIFY_HEAP_GROWTH,
    admin: {
      bootstrapEmail: p.NOTIFY_BOOTSTRAP_ADMIN_EMAIL,
      bootstrapPassword: p.NOTIFY_BOOTSTRAP_ADMIN_PASSWORD,
      sessionTtlMs: p.NOTIFY_ADMIN_SESSION_TTL,
      staticDir: p.NOTIFY_ADMIN_DIR,
    },
    jwt: {
      secret: p.NOTIFY_JWT_SECRET,
      jwksUrl: p.NOTIFY_JWT_JWKS_URL,
      issuer: p.NOTIFY_JWT_ISSUER,
      audience: p.NOTIFY_JWT_AUDIENCE,
    },
    ws: {
      addr: p.NOTIFY_WS_ADDR,
      // Default: the site itself (the public URL's origin).
      origins: (p.NOTIFY_WS_ORIGINS ?? new URL(p.NOTIFY_PUBLIC_URL).origin)
        .split(",")
        .map((o) => o.trim().replace(/\/$/, ""))
        .filter(Boolean),
      maxMsgsPerSec: p.NOTIFY_WS_MAX_MSGS_PER_SEC,
      maxBufferedBytes: p.NOTIFY_WS_MAX_BUFFER,
      heartbeatMs: p.NOTIFY_WS_HEARTBEAT,
      maxConnsPerUser: p.NOTIFY_WS_MAX_CONNS_PER_USER,
      backlog: p.NOTIFY_WS_BACKLOG,
    },
  };
}

/** The variables loadConfig reads, for docs and `notifyd --help`. */
export const CONFIG_KEYS = Object.keys(schema.shape);
