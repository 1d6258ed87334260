import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// Storage is isolated per test file, so each file starts from the migrated schema.
// As `npm start` and `npm run deploy` do: the data folder, then the control folder on the control
// database in its own migrations table (migrations/README.md).
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
await applyD1Migrations(env.DB, env.TEST_CONTROL_MIGRATIONS, env.TEST_CONTROL_MIGRATIONS_TABLE);
// Every data shard's database carries the same schema: DB_1, DB_2, ... where the pool binds them
// (vitest.shards.config.ts).
const bindings = env as unknown as Record<string, D1Database | undefined>;
for (let i = 1; bindings[`DB_${i}`]; i++) await applyD1Migrations(bindings[`DB_${i}`]!, env.TEST_MIGRATIONS);
