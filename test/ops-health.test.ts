import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus as S } from "../gen/health/v1/health_pb.js";
import { createGrpcClient, type GrpcClient } from "../internal/rpc/grpc-client.js";
import { ensureDatabase } from "../internal/store/db.js";
import { migrate } from "../internal/store/migrate.js";
import { startMariaDb, startNats, type PrivateMariaDb, type PrivateNats } from "./harness/index.js";
import { eventually, startTestStack, type TestNode, type TestStack } from "./harness/platform.js";

// grpc.health.v1 follows the node's dependencies: a nats-server and a MariaDB of the test's own are
// stopped and restarted under a running api node, and the statuses go NOT_SERVING and back.
let stack: TestStack;
let nats: PrivateNats;
let db: PrivateMariaDb;
let node: TestNode;
let health: GrpcClient<typeof Health>;

const status = async (service = "") => (await health.check({ service })).status;
const becomes = (want: S, service = "", timeoutMs = 20_000) =>
  eventually(async () => (await status(service).catch(() => undefined)) === want, timeoutMs, 250);

beforeAll(async () => {
  [nats, db] = await Promise.all([startNats(), startMariaDb()]);
  const dbUrl = db.urlFor("notify");
  await ensureDatabase(dbUrl);
  await migrate(dbUrl);
  stack = await startTestStack("opshealth", { users: 5 });
  node = await stack.startNode("api,worker", { NOTIFY_NATS_URL: nats.url, NOTIFY_DB_URL: dbUrl });
  health = createGrpcClient(Health, node.grpcUrl.replace("http://", ""), { timeoutMs: 3000 });
}, 60_000);

afterAll(async () => {
  health?.close();
  await stack?.close();
  await nats?.stop();
  await db?.stop();
});

describe("grpc.health.v1 follows the dependencies", () => {
  it("is SERVING with everything up", async () => {
    await becomes(S.SERVING);
    expect(await status("nats")).toBe(S.SERVING);
    expect(await status("mariadb")).toBe(S.SERVING);
  });

  it("goes NOT_SERVING while NATS is down and SERVING once it is back", async () => {
    await nats.kill();
    await becomes(S.NOT_SERVING);
    expect(await status("nats")).toBe(S.NOT_SERVING);
    expect(await status("mariadb")).toBe(S.SERVING);
    await nats.restart();
    await becomes(S.SERVING);
    expect(await status("nats")).toBe(S.SERVING);
  }, 60_000);

  it("goes NOT_SERVING while MariaDB is down and SERVING once it is back", async () => {
    await db.kill();
    await becomes(S.NOT_SERVING);
    expect(await status("mariadb")).toBe(S.NOT_SERVING);
    expect(await status("nats")).toBe(S.SERVING);
    await db.restart();
    await becomes(S.SERVING, "", 30_000);
  }, 60_000);

  it("reports NOT_SERVING to watchers when the node drains", async () => {
    const seen: S[] = [];
    const watching = (async () => {
      for await (const r of createGrpcClient(Health, node.grpcUrl.replace("http://", "")).watch({ service: "" })) seen.push(r.status);
    })().catch(() => undefined);
    await eventually(async () => seen[0] === S.SERVING);
    await node.stop();
    await watching;
    expect(seen).toEqual([S.SERVING, S.NOT_SERVING]);
  });
});
