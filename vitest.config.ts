/**
 * Unit and Workers-runtime tests: they run inside workerd through the vitest pool,
 * against real local D1, Queues and Durable Objects, with the migrations applied
 * in test/setup.ts (the pool's options: test/workers-config.ts). End-to-end tests have
 * their own config (vitest.e2e.config.ts); several data shards, vitest.shards.config.ts.
 */
import { workersTestConfig } from "./test/workers-config.ts";

export default workersTestConfig({ include: ["test/unit/**/*.test.ts", "test/worker/**/*.test.ts"] });
