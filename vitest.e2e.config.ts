/**
 * End-to-end tests: plain Node, not the Workers pool. Each file starts the real service
 * (scripts/launcher.mjs: wrangler dev with local D1, Queues and Durable Objects) and
 * talks to it over HTTP. Files run one after another: each owns a wrangler and a port.
 */
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/e2e/**/*.test.ts"],
    environment: "node",
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
