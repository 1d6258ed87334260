/**
 * The two migration folders (migrations/README.md) and the wrangler configuration that applies
 * the second one. Used by the launcher (`npm start`, the end-to-end tests), `npm run deploy` and
 * the Workers test pool.
 *
 *   migrations/data     every database (each data shard), recorded in d1_migrations: the
 *                       binding's own `migrations_dir` in wrangler.toml, wrangler's default table
 *   migrations/control  the control database only (shard 0's, binding DB), after the data folder,
 *                       recorded in d1_migrations_control
 *
 * `wrangler d1 migrations apply` takes one folder and one table per binding, from the
 * configuration. So the control folder is applied with a copy of the configuration whose DB entry
 * names that folder and that table: same database id, so the same local or remote database.
 */
import { relative, resolve } from "node:path";

export const CONTROL_MIGRATIONS_DIR = "migrations/control";
export const CONTROL_MIGRATIONS_TABLE = "d1_migrations_control";

/**
 * `config` (as JSON, with paths already valid where the copy is written) with the DB binding's
 * database set to the control folder and table. `root` is the repository, `dir` where the copy
 * is written (wrangler resolves `migrations_dir` against the configuration file's directory).
 */
export function controlMigrationsConfig(config, { root, dir }) {
  const dbs = config.d1_databases ?? [];
  if (!dbs.some((db) => db.binding === "DB")) throw new Error("the configuration has no D1 database with binding DB (the control database)");
  return {
    ...config,
    d1_databases: dbs.map((db) =>
      db.binding === "DB"
        ? { ...db, migrations_dir: relative(dir, resolve(root, CONTROL_MIGRATIONS_DIR)) || ".", migrations_table: CONTROL_MIGRATIONS_TABLE }
        : db,
    ),
  };
}
