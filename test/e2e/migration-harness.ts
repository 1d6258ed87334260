/// <reference types="node" />
/**
 * Upgrade tests: D1 databases in workerd's own SQLite (through Miniflare), and the migrations
 * applied in two steps around the data an older deployment would hold.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { afterAll } from "vitest";

const dir = join(import.meta.dirname, "../../migrations");
const files = readdirSync(dir).filter((f) => f.endsWith(".sql")).sort();

/** A migration file's statements, as wrangler and the vitest pool apply them. */
const statements = (file: string) =>
  readFileSync(join(dir, file), "utf8")
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

function indexOf(prefix: string): number {
  const at = files.findIndex((f) => f.startsWith(prefix));
  if (at <= 0) throw new Error(`no migration after the first one starts with ${prefix}`);
  return at;
}

async function apply(db: D1Database, list: string[]) {
  for (const file of list) for (const s of statements(file)) await db.prepare(s).run();
}

/** Every migration before the one whose name starts with `prefix` (say "0007_"): the deployment as it was. */
export const migrateBefore = (db: D1Database, prefix: string) => apply(db, files.slice(0, indexOf(prefix)));

/** That migration and every one after it: the upgrade. */
export const migrateFrom = (db: D1Database, prefix: string) => apply(db, files.slice(indexOf(prefix)));
