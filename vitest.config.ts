import { defineConfig } from "vitest/config";

// Unit tests beside the code, integration and short chaos tests in test/. The long chaos runs
// (test/chaos/full*.test.ts) have their own config: npm run chaos.
export default defineConfig({
  test: {
    include: ["internal/**/*.test.ts", "cmd/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "dist/**", "test/chaos/full*.test.ts"],
    // Tests spawn servers and signal process groups; forks isolate that better than threads.
    pool: "forks",
    // Two cores on this machine, shared with the services under test.
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
