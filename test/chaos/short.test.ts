import { expect, it } from "vitest";
import { CHAOS_ENV } from "./lib/env.js";
import { killNodes, poison, restartMariaDb, restartNats, runScenario, smtpOutage, usersOutage } from "./lib/scenario.js";

// The short chaos run inside `npm test`: 2,000 notifications while each kind of fault happens once.
// The long one (20,000, three kills of each kind, a 3-node cluster) is `npm run chaos` (full*.test.ts).


it("chaos (short): kills, broker and database restarts, SMTP and user-service outages lose nothing", async () => {
  const r = await runScenario({
    name: "short",
    notifications: 2000,
    perSecond: 100,
    batchShare: 0.5,
    natsNodes: 1,
    users: 500,
    permanent: 10,
    dead: 5,
    poison: 3,
    env: CHAOS_ENV,
    faults: [
      poison(500, 3),
      killNodes(2000, ["w1"]),
      killNodes(3500, ["api"]),
      killNodes(5000, ["relay"]),
      restartNats(8000),
      restartMariaDb(11_000),
      smtpOutage(14_000, 5000),
      usersOutage(20_000, 5000),
    ],
    drainTimeoutMs: 100_000,
  });
  expect(r.accepted).toBe(2000);
  expect(r.lost).toBe(0);
  expect(r.unexpected).toEqual([]);
  expect(r.missed).toEqual([]);
  expect(r.failed).toBe(10);
  expect(r.dead).toBe(5);
  expect(r.poisonLetters).toBe(3);
  expect(r.deadLetters).toBe(5 + 3);
  expect(r.duplicates).toBeLessThanOrEqual(r.resentAfterUncertain);
  expect(r.delivered).toBe(2000 - 10 - 5);
}, 480_000);
