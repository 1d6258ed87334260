/**
 * Workers-runtime tests of several data shards (test/shards): the pool of vitest.config.ts with
 * SHARDS = "2", and shard 1's bindings beside wrangler.toml's shard 0 (DB, DELIVERY_QUEUE):
 * D1 DB_1 and queue producer DELIVERY_QUEUE_1 (hookline-deliveries-1) with its consumer, as
 * `SHARDS=2 npm start` has them. test/setup.ts migrates DB_1 too.
 */
import { workersTestConfig } from "./test/workers-config.ts";

export default workersTestConfig({ include: ["test/shards/**/*.test.ts"], shards: 2 });
