import type { SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import * as schema from "./schema";

export type Db = ReturnType<typeof database>;

const cache = new WeakMap<D1Database, ReturnType<typeof drizzle<typeof schema>>>();

/** One drizzle instance per D1 binding and isolate. */
export function database(d1: D1Database) {
  let db = cache.get(d1);
  if (!db) {
    db = drizzle(d1, { schema });
    cache.set(d1, db);
  }
  return db;
}

/** D1 reports constraint failures only in the message text. */
export function isUniqueViolation(err: unknown, column: string): boolean {
  const text = err instanceof Error ? `${err.message} ${String((err as { cause?: unknown }).cause ?? "")}` : String(err);
  return text.includes("UNIQUE constraint failed") && text.includes(column);
}

/**
 * A guard aborts its batch (one transaction) with json() of a non-JSON string, e.g.
 * `SELECT CASE WHEN <not allowed> THEN json('why') END`: this tells that refusal from any other failure.
 */
export const refusedByGuard = (err: unknown): boolean => String(err instanceof Error ? err.message : err).includes("malformed JSON");

/**
 * Raw SQL that can also go into db.batch(). drizzle's D1 session binds batched
 * statements through `stmt`, which its raw queries lack; give them one. The query is built
 * once: drizzle's batch would build it again from the template (the hot path's statements are
 * long templates of templates, and building them is most of what drizzle costs there).
 */
function built<Q extends { getQuery(): { sql: string } }>(d1: D1Database, q: Q): Q & { stmt: D1PreparedStatement } {
  const query = q.getQuery();
  return Object.assign(q, { stmt: d1.prepare(query.sql), getQuery: () => query });
}

export const sqlAll = <T>(d1: D1Database, query: SQL) => built(d1, database(d1).all<T>(query));

export const sqlRun = (d1: D1Database, query: SQL) => built(d1, database(d1).run(query));
