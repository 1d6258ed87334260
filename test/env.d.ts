declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    FUZZ_RUNS?: string;
  }
  interface GlobalProps {
    mainModule: typeof import("../src/index");
  }
}
