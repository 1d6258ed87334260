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
