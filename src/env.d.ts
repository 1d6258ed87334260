/** The Worker's bindings, as wrangler.toml and `wrangler secret put` declare them. */
interface Env {
  DB: D1Database;
  DELIVERY_QUEUE: Queue<import("./services/enqueue").DeliveryMessage>;
  SUBSCRIPTION_HEALTH: DurableObjectNamespace<import("./delivery/health").SubscriptionHealth>;
  ADMIN_TOKEN: string;
  SECRETS_KEY: string;
  ALLOW_INSECURE_TARGETS?: string;
  RETRY_SCHEDULE?: string;
  DEACTIVATE_AFTER?: string;
  DELIVERY_TIMEOUT_MS?: string;
  LOG_RETENTION_DAYS?: string;
  LISTEN_LEASE_SECONDS?: string;
  /** Origins allowed to frame the dashboard, separated by spaces or commas (portal links). */
  PORTAL_FRAME_ANCESTORS?: string;
  LISTEN_SESSION: DurableObjectNamespace<import("./delivery/listen").ListenSession>;
  ACCOUNT_MOVE: DurableObjectNamespace<import("./delivery/account-move").AccountMove>;
  /** Data shards: DB and DELIVERY_QUEUE are shard 0, DB_<i> and DELIVERY_QUEUE_<i> shard i (src/db/shards.ts). Default "1". */
  SHARDS?: string;
  /** "1" turns metrics mode on (benchmarks only). */
  METRICS?: string;
}

declare namespace Cloudflare {
  interface Env extends globalThis.Env {}
}
