import { expect, it } from "vitest";
import { CHAOS_ENV } from "./lib/env.js";
import { killNatsLeader, killNodes, poison, restartMariaDb, runScenario, smtpOutage } from "./lib/scenario.js";

// npm run chaos, second scenario: a 3-node NATS cluster with R3 streams (NOTIFY_NATS_REPLICAS=3); the
// node leading the work stream is SIGKILLed twice while workers, the relay and MariaDB fall too.

it("chaos (3-node NATS cluster, R3): losing the stream leader loses nothing", async () => {
  const r = await runScenario({
    name: "cluster",
    notifications: 10_000,
    perSecond: 120,
    batchShare: 0.5,
    natsNodes: 3,
    users: 2000,
    permanent: 20,
    dead: 10,
    poison: 3,
    env: CHAOS_ENV,
    faults: [
      poison(1000, 3),
      killNodes(10_000, ["w1"]),
      killNatsLeader(20_000, 10_000),
      killNodes(40_000, ["relay"]),
      restartMariaDb(50_000),
      smtpOutage(60_000, 15_000),
      killNatsLeader(80_000, 5000),
      killNodes(90_000, ["w2", "relay"]),
    ],
    drainTimeoutMs: 10 * 60_000,
  });
  expect(r.accepted).toBe(10_000);
  expect(r.lost).toBe(0);
  expect(r.unexpected).toEqual([]);
  expect(r.missed).toEqual([]);
  expect(r.failed).toBe(20);
  expect(r.dead).toBe(10);
  expect(r.poisonLetters).toBe(3);
  expect(r.duplicates).toBeLessThanOrEqual(r.resentAfterUncertain);
  expect(r.delivered).toBe(10_000 - 20 - 10);
});
