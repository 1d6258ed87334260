/**
 * Unit and Workers-runtime tests: they run inside workerd through the vitest pool,
 * against real local D1, Queues and Durable Objects, with the migrations applied
 * in test/setup.ts. End-to-end tests have their own config (vitest.e2e.config.ts).
 */
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import { receiverDouble } from "./test/receiver-double.ts";

const migrations = await readD1Migrations(fileURLToPath(new URL("./migrations", import.meta.url)));

export default defineConfig({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: "./wrangler.toml" },
      miniflare: {
        bindings: {
          TEST_MIGRATIONS: migrations,
          ADMIN_TOKEN: "test-admin-token",
          SECRETS_KEY: "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
          ALLOW_INSECURE_TARGETS: "false",
          // Short enough for tests to wait on; the end-to-end tests keep the real 1 s / 10 s / 60 s.
          RETRY_SCHEDULE: "1,1,1",
          DELIVERY_TIMEOUT_MS: "1000",
          FUZZ_RUNS: process.env.FUZZ_RUNS ?? "60",
          FUZZ_SEED: process.env.FUZZ_SEED ?? "",
          FUZZ_MIN_REQUESTS: process.env.FUZZ_MIN_REQUESTS ?? "0",
        },
        // Outbound fetch goes to a test double, not the network (and not by patching the code).
        outboundService: receiverDouble,
      },
    }),
  ],
  test: {
    include: ["test/unit/**/*.test.ts", "test/worker/**/*.test.ts"],
    setupFiles: ["./test/setup.ts"],
    testTimeout: 30_000,
  },
});
