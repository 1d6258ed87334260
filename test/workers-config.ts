/**
 * The Vitest configuration of the Workers-runtime pools: vitest.config.ts (unit and worker tests,
 * one data shard) and vitest.shards.config.ts (test/shards, several). Tests run inside workerd,
 * against real local D1, Queues and Durable Objects from wrangler.toml, with the migrations
 * applied in test/setup.ts.
 */
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-pool-workers";
import { fileURLToPath } from "node:url";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { defineConfig } from "vitest/config";
import { CONTROL_MIGRATIONS_DIR, CONTROL_MIGRATIONS_TABLE } from "../scripts/migrations.mjs";
import { receiverDouble } from "./receiver-double.ts";

const WRANGLER_TOML = fileURLToPath(new URL("../wrangler.toml", import.meta.url));
// The two folders (migrations/README.md): data on every database, control on DB's after it.
const migrations = await readD1Migrations(fileURLToPath(new URL("../migrations/data", import.meta.url)));
const controlMigrations = await readD1Migrations(fileURLToPath(new URL(`../${CONTROL_MIGRATIONS_DIR}`, import.meta.url)));

export interface WorkersTestOptions {
  include: string[];
  /** Data shards: above 1, shard i >= 1 gets DB_<i> and DELIVERY_QUEUE_<i> with a consumer, as `SHARDS=n npm start` does. */
  shards?: number;
}

/**
 * The miniflare bindings of shards 1..n-1 (shard 0 is wrangler.toml's DB and DELIVERY_QUEUE), named as
 * scripts/launcher.mjs names them: D1 DB_<i> (local id ...-<i, 12 digits>), queue producer DELIVERY_QUEUE_<i>
 * (queue hookline-deliveries-<i>) and its consumer, with the settings of wrangler.toml's consumer.
 */
function shardBindings(shards: number) {
  // The pool makes the same call for wrangler.toml's own bindings: same conversion, same settings. Quietly:
  // it also reads .dev.vars, and says so, which the pool's call already does.
  const logLevel = process.env.WRANGLER_LOG;
  process.env.WRANGLER_LOG = "warn";
  let workerOptions;
  try {
    ({ workerOptions } = unstable_getMiniflareWorkerOptions(WRANGLER_TOML));
  } finally {
    if (logLevel === undefined) delete process.env.WRANGLER_LOG;
    else process.env.WRANGLER_LOG = logLevel;
  }
  const producer0 = (workerOptions.queueProducers as Record<string, { queueName: string }>).DELIVERY_QUEUE;
  const consumer0 = (workerOptions.queueConsumers as Record<string, object>)[producer0.queueName];
  const d1Databases: Record<string, { id: string }> = {};
  const queueProducers: Record<string, { queueName: string }> = {};
  const queueConsumers: Record<string, object> = {};
  for (let i = 1; i < shards; i++) {
    d1Databases[`DB_${i}`] = { id: `00000000-0000-0000-0000-${String(i).padStart(12, "0")}` };
    queueProducers[`DELIVERY_QUEUE_${i}`] = { queueName: `${producer0.queueName}-${i}` };
    queueConsumers[`${producer0.queueName}-${i}`] = { ...consumer0 };
  }
  return { d1Databases, queueProducers, queueConsumers };
}

export function workersTestConfig({ include, shards = 1 }: WorkersTestOptions) {
  return defineConfig({
    plugins: [
      cloudflareTest({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            TEST_MIGRATIONS: migrations,
            TEST_CONTROL_MIGRATIONS: controlMigrations,
            TEST_CONTROL_MIGRATIONS_TABLE: CONTROL_MIGRATIONS_TABLE,
            ADMIN_TOKEN: "test-admin-token",
            SECRETS_KEY: "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
            ALLOW_INSECURE_TARGETS: "false",
            // Short enough for tests to wait on; the end-to-end tests keep the real 1 s / 10 s / 60 s.
            RETRY_SCHEDULE: "1,1,1",
            DELIVERY_TIMEOUT_MS: "1000",
            FUZZ_RUNS: process.env.FUZZ_RUNS ?? "60",
            FUZZ_SEED: process.env.FUZZ_SEED ?? "",
            FUZZ_MIN_REQUESTS: process.env.FUZZ_MIN_REQUESTS ?? "0",
            ...(shards > 1 ? { SHARDS: String(shards) } : {}),
          },
          ...(shards > 1 ? shardBindings(shards) : {}),
          // Outbound fetch goes to a test double, not the network (and not by patching the code).
          outboundService: receiverDouble,
        },
      }),
    ],
    test: {
      include,
      setupFiles: ["./test/setup.ts"],
      testTimeout: 30_000,
    },
  });
}
