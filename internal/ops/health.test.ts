import { PassThrough } from "node:stream";
import { Code, ConnectError } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "../../gen/health/v1/health_pb.js";
import { createLogger } from "../log/logger.js";
import { createGrpcClient, type GrpcClient } from "../rpc/grpc-client.js";
import { createHealth } from "./health.js";
import { createHealthMonitor } from "./health-monitor.js";
import { startH2cTestServer, type H2cTestServer } from "./h2c-test-server.js";

describe("grpc.health.v1.Health over grpc-js", () => {
  const health = createHealth();
  let server: H2cTestServer;
  let client: GrpcClient<typeof Health>;

  beforeAll(async () => {
    server = await startH2cTestServer((router) => health.routes(router));
    client = createGrpcClient(Health, server.address, { timeoutMs: 5000 });
  });
  afterAll(async () => {
    client?.close();
    health.close();
    await server?.close();
  });

  it("Check answers the overall status and NOT_FOUND for unknown services", async () => {
    expect((await client.check({ service: "" })).status).toBe(S.SERVING);
    const err = await client.check({ service: "nope" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectError);
    expect((err as ConnectError).code).toBe(Code.NotFound);
  });

  it("Watch streams every change, starting with SERVICE_UNKNOWN, until the server closes it", async () => {
    const seen: S[] = [];
    const it = client.watch({ service: "notify.v1.NotificationService" })[Symbol.asyncIterator]();
    const next = async () => {
      const r = await it.next();
      if (!r.done) seen.push(r.value.status);
      return r;
    };
    await next();
    health.setStatus("notify.v1.NotificationService", "SERVING");
    await next();
    health.setStatus("notify.v1.NotificationService", "SERVING"); // no change, no message
    health.setStatus("notify.v1.NotificationService", "NOT_SERVING");
    await next();
    expect(seen).toEqual([S.SERVICE_UNKNOWN, S.SERVING, S.NOT_SERVING]);

    const list = await client.list({});
    expect(list.statuses["notify.v1.NotificationService"]?.status).toBe(S.NOT_SERVING);
    expect(list.statuses[""]?.status).toBe(S.SERVING);

    health.close();
    expect((await next()).done).toBe(true);
  });

  it("shutdown turns everything NOT_SERVING and ignores later updates", async () => {
    health.shutdown();
    health.setStatus("", "SERVING");
    expect((await client.check({ service: "" })).status).toBe(S.NOT_SERVING);
    expect(health.statuses()).toEqual({ "": "NOT_SERVING", "notify.v1.NotificationService": "NOT_SERVING" });
  });
});

describe("health monitor", () => {
  it("flips statuses per check, per mapped service and overall, logging only transitions", async () => {
    const logs = new PassThrough();
    const lines: string[] = [];
    logs.on("data", (b: Buffer) => lines.push(...b.toString().trim().split("\n")));
    const health = createHealth();
    let dbUp = true;
    const monitor = createHealthMonitor({
      checks: {
        mariadb: async () => {
          if (!dbUp) throw new Error("connect ECONNREFUSED");
        },
        nats: async () => {},
        slow: () => new Promise<void>(() => {}),
      },
      services: { "notify.v1.NotificationService": ["mariadb", "nats"] },
      intervalMs: 1000,
      timeoutMs: 50,
      health,
      log: createLogger({ level: "info", destination: logs }),
    });

    expect(await monitor.runOnce()).toEqual({ mariadb: true, nats: true, slow: false });
    expect(health.statuses()).toEqual({
      "": "NOT_SERVING",
      mariadb: "SERVING",
      nats: "SERVING",
      slow: "NOT_SERVING",
      "notify.v1.NotificationService": "SERVING",
    });

    dbUp = false;
    await monitor.runOnce();
    await monitor.runOnce();
    expect(health.getStatus("notify.v1.NotificationService")).toBe("NOT_SERVING");
    expect(health.getStatus("mariadb")).toBe("NOT_SERVING");

    dbUp = true;
    await monitor.runOnce();
    expect(health.getStatus("notify.v1.NotificationService")).toBe("SERVING");

    await new Promise((r) => setImmediate(r));
    const events = lines.map((l) => JSON.parse(l) as { msg: string; check: string; err?: string });
    expect(events.map((e) => `${e.msg}:${e.check}`)).toEqual([
      "health check failing:slow",
      "health check failing:mariadb",
      "health check recovered:mariadb",
    ]);
    expect(events[0].err).toContain("timed out after 50 ms");
  });

  it("start runs a round at once and stop waits for it", async () => {
    const health = createHealth({ initial: {} });
    let rounds = 0;
    const monitor = createHealthMonitor({
      checks: { db: async () => void rounds++ },
      intervalMs: 20,
      health,
      log: createLogger({ level: "silent" }),
    });
    monitor.start();
    await new Promise((r) => setTimeout(r, 110));
    await monitor.stop();
    const after = rounds;
    expect(after).toBeGreaterThanOrEqual(2);
    expect(health.getStatus("")).toBe("SERVING");
    await new Promise((r) => setTimeout(r, 60));
    expect(rounds).toBe(after);
  });
});
