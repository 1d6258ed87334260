/// <reference types="node" />
/**
 * Upgrade tests: D1 databases in workerd's own SQLite (through Miniflare), and the migrations
 * applied in two steps around the data an older deployment would hold.
 *
 * Until 0013 the schema was one folder, recorded in d1_migrations. It is now two
 * (migrations/README.md): migrations/data (d1_migrations) and migrations/control
 * (d1_migrations_control), whose files kept their names. So an older deployment is rebuilt from
 * both folders' files in the order they were written, and upgraded the way `npm start`,
 * `npm run deploy` and the test pool do it: each folder's files not yet in its table.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { afterAll } from "vitest";

const ROOT = join(import.meta.dirname, "../../migrations");
const FOLDERS = { data: "d1_migrations", control: "d1_migrations_control" } as const;
type Folder = keyof typeof FOLDERS;
const filesOf = (folder: Folder) => readdirSync(join(ROOT, folder)).filter((f) => f.endsWith(".sql")).sort();
/** The migration that split the folder: every file before it was once in the one folder. */
const SPLIT = "0013_";

/**
 * The one folder as it was: both folders' files before the split, by number.
 */
const history = (["data", "control"] as const)
  .flatMap((folder, rank) => filesOf(folder).filter((file) => file < SPLIT).map((file) => ({ folder, file, rank })))
  .sort((a, b) => a.file.slice(0, 4).localeCompare(b.file.slice(0, 4)) || a.rank - b.rank);

/** A migration file's statements, as wrangler and the vitest pool apply them. */
const statements = (folder: Folder, file: string) =>
  readFileSync(join(ROOT, folder, file), "utf8")
    .split("--> statement-breakpoint")
    .map((s) => s.trim())
    .filter((s) => s.replace(/--.*$/gm, "").trim());

/** Fresh, empty databases with these binding names, for a test file (await it at its top); disposed after its tests. */
export async function useDatabases<N extends string>(...names: N[]): Promise<Record<N, D1Database>> {
  const mf = new Miniflare({ modules: true, script: "export default { fetch: () => new Response() }", d1Databases: names });
  afterAll(() => mf.dispose());
  const dbs = {} as Record<N, D1Database>;
  for (const name of names) dbs[name] = (await mf.getD1Database(name)) as unknown as D1Database;
  return dbs;
}

/** wrangler's migrations table, as `d1 migrations apply` creates it. */
const migrationsTable = (table: string) =>
  `CREATE TABLE IF NOT EXISTS ${table}(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL)`;

async function applyFile(db: D1Database, folder: Folder, file: string, table: string) {
  for (const s of statements(folder, file)) await db.prepare(s).run();
  await db.prepare(`INSERT INTO ${table} (name) VALUES (?)`).bind(file).run();
}

/** One folder the way `d1 migrations apply` does it: its files not yet in its table, in order. Returns their names. */
export async function applyFolder(db: D1Database, folder: Folder): Promise<string[]> {
  const table = FOLDERS[folder];
  await db.prepare(migrationsTable(table)).run();
  const { results } = await db.prepare(`SELECT name FROM ${table}`).all<{ name: string }>();
  const done = new Set(results.map((r) => r.name));
  const pending = filesOf(folder).filter((file) => !done.has(file));
  for (const file of pending) await applyFile(db, folder, file, table);
  return pending;
}

/**
 * The deployment as it was before the data migration whose name starts with `prefix` (say
 * "0007_"): up to the split ("0013_"), the one folder's files before it, recorded in
 * d1_migrations; after it, the whole one folder, then the data files before `prefix` and the
 * control folder, as the tooling applied them.
 */
export async function migrateBefore(db: D1Database, prefix: string) {
  await db.prepare(migrationsTable(FOLDERS.data)).run();
  for (const { folder, file } of history.filter((m) => m.file < prefix)) await applyFile(db, folder, file, FOLDERS.data);
  if (prefix <= SPLIT) return;
  for (const file of filesOf("data").filter((f) => f >= SPLIT && f < prefix)) await applyFile(db, "data", file, FOLDERS.data);
  await applyFolder(db, "control");
}

/** The upgrade, as today's tooling runs it: the data folder, then the control folder. */
export async function migrateFrom(db: D1Database) {
  return { data: await applyFolder(db, "data"), control: await applyFolder(db, "control") };
}

/** Every table and index with its SQL, by name: the schema, to compare two databases. */
export async function schemaOf(db: D1Database): Promise<Record<string, string>> {
  const { results } = await db
    .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name")
    .all<{ name: string; sql: string }>();
  return Object.fromEntries(results.map((r) => [r.name, r.sql]));
}
