/**
 * The event-type catalog's copies: the control database holds the catalog, and every other
 * shard a copy of it (src/db/shards.ts), which emit reads and checks on the account's shard.
 */
import { sql } from "drizzle-orm";
import { database, sqlAll } from "../db/client";
import { type EventTypeRow, eventTypes } from "../db/schema";
import { allShards, control } from "../db/shards";

const otherShards = (env: Env) => allShards(env).filter((s) => s.DB !== control(env));

/**
 * Every other shard's copy of one catalog row, written before the operator's answer: an emit
 * that starts after it sees the change on whichever shard its account lives. A shard that
 * missed it (the answer was then a 5xx) is mended by the next write of the type, or by the
 * sweep's `reconcileCatalog` within a minute.
 */
export async function replicateEventType(env: Env, row: EventTypeRow): Promise<void> {
  await Promise.all(otherShards(env).map((s) => writeCopy(s.DB, row)));
}

const writeCopy = (db: D1Database, row: EventTypeRow) =>
  database(db).insert(eventTypes).values(row).onConflictDoUpdate({ target: eventTypes.name, set: row });

/** The sweep's mend: each shard's rows that differ from the control catalog (by updated_at) are copied again. */
export async function reconcileCatalog(env: Env): Promise<number> {
  const shards = otherShards(env);
  if (shards.length === 0) return 0;
  const catalog = await database(control(env)).select().from(eventTypes);
  let mended = 0;
  await Promise.all(
    shards.map(async (s) => {
      const stamps = await sqlAll<{ name: string; updated_at: number }>(s.DB, sql`SELECT name, updated_at FROM event_types`);
      const have = new Map(stamps.map((r) => [r.name, r.updated_at]));
      for (const row of catalog) {
        if (have.get(row.name) === row.updatedAt) continue;
        await writeCopy(s.DB, row);
        mended++;
      }
    }),
  );
  return mended;
}
