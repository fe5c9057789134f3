import { defineConfig } from "vitest/config";

// Unit tests beside the code, integration and short chaos tests in test/. The long chaos runs
// (test/chaos/full*.test.ts) have their own config: npm run chaos.
export default defineConfig({
  test: {
    include: ["internal/**/*.test.ts", "cmd/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "dist/**", "test/chaos/full*.test.ts"],
    // Tests spawn servers and signal process groups; forks isolate that better than threads.
    pool: "forks",
    // One file at a time: two cores are shared with MariaDB, NATS and the processes each test starts,
    // and two integration files at once starved each other's timers (seen: failures only in parallel).
    maxWorkers: 1,
    // Generous: a starved CI machine (timers seen firing 0.4 s late) must not turn slowness into failures.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
