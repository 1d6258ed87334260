declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    FUZZ_RUNS?: string;
    FUZZ_SEED?: string;
    FUZZ_MIN_REQUESTS?: string;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}
