/**
 * The cron safety net, every minute: re-enqueue whatever is due and not in flight
 * (a lost message, a lease run out, a delay longer than the queue allows; a new delivery
 * once FRESH_GRACE_MS has passed without it being settled) and
 * purge the log past LOG_RETENTION_DAYS.
 */
import { sql } from "drizzle-orm";
import { loadConfig } from "../config";
import { database, sqlAll, sqlRun } from "../db/client";
import { enqueueDeliveries } from "../services/enqueue";
import { dropIdleSlotsStatement, dueStatement, promoteFreshStatements, purgeStatements, releaseExpiredLeasesStatement } from "./lifecycle";
import { closeSession } from "./listen";
import { pruneRollupsStatement } from "./rollup";
import { IDEMPOTENCY_TTL_MS } from "../services/emit";

/** Deliveries due this recently probably still have their message on the way. */
export const SWEEP_GRACE_MS = 5_000;
const SWEEP_LIMIT = 5_000;
const PURGE_LIMIT = 50_000;
const HOUR_MS = 60 * 60 * 1000;

/**
 * The log past its retention. It has no index on time (every index costs a written row
 * per delivery, and D1 bills writes a thousand times reads), so it is scanned, once an hour.
 */
function purgeLogStatements(env: Env, now: number, retentionDays: number) {
  const cutoff = now - retentionDays * 24 * HOUR_MS;
  return [
    ...purgeStatements(env, cutoff, PURGE_LIMIT),
    // An event goes once none of its deliveries is left (they share its created_at): those still
    // unfinished, or past this purge's limit, keep it.
    sqlRun(env.DB, sql`DELETE FROM events WHERE id IN (
      SELECT id FROM events WHERE created_at < ${cutoff}
        AND id NOT IN (SELECT event_id FROM deliveries WHERE created_at < ${cutoff}) LIMIT ${PURGE_LIMIT})`),
    sqlRun(env.DB, sql`DELETE FROM deleted_subscriptions WHERE deleted_at < ${cutoff}
      AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.subscription_id = deleted_subscriptions.id)`),
    sqlRun(env.DB, sql`DELETE FROM idempotency_keys WHERE created_at <= ${now - IDEMPOTENCY_TTL_MS}`),
    pruneRollupsStatement(env, now),
    dropIdleSlotsStatement(env, now),
  ];
}

/** Purges at the first sweep of each hour, or whenever `purge` says so. */
export async function sweep(env: Env, now = Date.now(), purge = now % HOUR_MS < 60_000): Promise<{ requeued: number }> {
  const config = loadConfig(env);
  const db = database(env.DB);
  const [, , expired, due, lapsed] = await db.batch([
    // New deliveries still unfinished after a grace get a next_attempt_at, so the next two see them.
    ...promoteFreshStatements(env, now),
    releaseExpiredLeasesStatement(env, now),
    dueStatement(env, now - SWEEP_GRACE_MS, SWEEP_LIMIT, now),
    // Listen sessions whose Durable Object did not close them (their lease is refreshed while a CLI is connected).
    sqlAll<{ id: string }>(env.DB, sql`SELECT id FROM listen_sessions WHERE expires_at < ${now} LIMIT 100`),
    ...(purge ? purgeLogStatements(env, now, config.logRetentionDays) : []),
  ]);
  const ids = [...new Set([...expired.map((r) => r.id), ...due.map((r) => r.id)])];
  await enqueueDeliveries(env, ids);
  for (const { id } of lapsed) await closeSession(env, id);
  return { requeued: ids.length };
}
