declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    TEST_CONTROL_MIGRATIONS: import("cloudflare:test").D1Migration[];
    TEST_CONTROL_MIGRATIONS_TABLE: string;
    FUZZ_RUNS?: string;
    FUZZ_SEED?: string;
    FUZZ_MIN_REQUESTS?: string;
    /** Shard 1, bound by vitest.shards.config.ts only (test/shards). */
    DB_1?: D1Database;
    DELIVERY_QUEUE_1?: Queue<import("../src/services/enqueue").DeliveryMessage>;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}
