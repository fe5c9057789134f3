import { defineConfig } from "vitest/config";

// Long chaos runs: npm run chaos, or npx vitest run --config vitest.chaos.config.ts test/chaos/x.test.ts
// One file at a time: each starts its own MariaDB/NATS cluster and kills parts of it.
export default defineConfig({
  test: {
    include: ["test/chaos/**/*.test.ts"],
    exclude: ["**/node_modules/**", "dist/**"],
    pool: "forks",
    maxWorkers: 1,
    fileParallelism: false,
    testTimeout: 30 * 60_000,
    hookTimeout: 30 * 60_000,
    teardownTimeout: 120_000,
    // The chaos suite grows over time; an empty selection is not an error.
    passWithNoTests: true,
  },
});
