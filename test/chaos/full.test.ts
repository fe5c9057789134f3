import { expect, it } from "vitest";
import { CHAOS_ENV } from "./lib/env.js";
import { killNodes, poison, restartMariaDb, restartNats, runScenario, smtpOutage, usersOutage } from "./lib/scenario.js";

// npm run chaos: 20,000 notifications (half in SendBatch calls) while workers and the relay are
// SIGKILLed three times each, nats-server and MariaDB are SIGKILLed and restarted, the SMTP relay
// answers 421 for 30 s and the user service is UNAVAILABLE for 20 s. The table lands in
// test-artifacts/chaos-full.json; docs/reliability.md quotes the last one.

it("chaos (full): 20,000 notifications through every fault lose nothing", async () => {
  const r = await runScenario({
    name: "full",
    notifications: 20_000,
    perSecond: 120,
    batchShare: 0.5,
    natsNodes: 1,
    users: 2000,
    permanent: 50,
    dead: 20,
    poison: 3,
    env: { ...CHAOS_ENV, NOTIFY_RAMP_DURATION: "15s" },
    faults: [
      poison(1000, 3),
      killNodes(10_000, ["w1"]),
      killNodes(25_000, ["relay"]),
      killNodes(47_000, ["api"]),
      restartNats(40_000),
      killNodes(55_000, ["w2", "relay"]),
      restartMariaDb(70_000),
      smtpOutage(85_000, 30_000),
      usersOutage(125_000, 20_000),
      killNodes(155_000, ["w1", "relay"]),
    ],
    drainTimeoutMs: 15 * 60_000,
  });
  expect(r.accepted).toBe(20_000);
  expect(r.lost).toBe(0);
  expect(r.unexpected).toEqual([]);
  expect(r.missed).toEqual([]);
  expect(r.failed).toBe(50);
  expect(r.dead).toBe(20);
  expect(r.poisonLetters).toBe(3);
  expect(r.deadLetters).toBe(20 + 3);
  expect(r.duplicates).toBeLessThanOrEqual(r.resentAfterUncertain);
  expect(r.delivered).toBe(20_000 - 50 - 20);
});
