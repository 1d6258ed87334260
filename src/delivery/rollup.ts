/**
 * The stats' source: attempts rolled up per (subscription, UTC hour) in `attempt_rollups`.
 * The settle batch carries one more statement that adds its attempts to their hours' rows
 * (one upsert, one row written per subscription and hour in the batch, whatever its size),
 * so the stats cost no round trip and never scan the log. The sweep prunes old hours.
 */
import { sql } from "drizzle-orm";
import { bucketColumn, bucketOf, BUCKETS } from "../core/duration-histogram";
import { sqlRun } from "../db/client";
import { deliveryAccountSql, type Recorded } from "./lifecycle";

export const HOUR_MS = 60 * 60 * 1000;

/** Hours kept: a week of stats, and the hour the week's window starts in, with a day to spare. */
export const ROLLUP_RETENTION_MS = 8 * 24 * HOUR_MS;

export const hourOf = (ms: number) => ms - (ms % HOUR_MS);

const columns = Array.from({ length: BUCKETS }, (_, i) => bucketColumn(i));
const COLUMN_LIST = sql.raw(columns.join(", "));
// j.value: [delivery id, hour, outcome, bucket, ended failed (0/1), duration ms]
const BUCKET_SUMS = sql.raw(columns.map((_, i) => `sum(j.value ->> 3 = ${i})`).join(", "));
const BUCKET_ADDS = sql.raw(columns.map((c) => `${c} = ${c} + excluded.${c}`).join(", "));

/**
 * For the settle batch: its attempts added to their (subscription, hour) rows. The delivery's
 * row names the subscription, and the subscription the account (a delivery deleted meanwhile
 * adds nothing, as its settle records nothing).
 */
export function rollupStatement(env: Env, results: readonly Recorded[]) {
  const rows = results.map(({ attempt, verdict }) => [
    attempt.deliveryId,
    hourOf(attempt.startedAt),
    attempt.outcome,
    bucketOf(attempt.durationMs),
    verdict.kind === "failed" ? 1 : 0,
    attempt.durationMs,
  ]);
  return sqlRun(env.DB, sql`
    INSERT INTO attempt_rollups (account_id, subscription_id, hour, attempts, succeeded, http_status, timeout, network,
      deliveries_failed, max_ms, ${COLUMN_LIST})
    SELECT j.account_id, j.subscription_id, j.value ->> 1, count(*), sum(j.value ->> 2 = 'success'),
      sum(j.value ->> 2 = 'http_status'), sum(j.value ->> 2 = 'timeout'), sum(j.value ->> 2 = 'network'),
      sum(j.value ->> 4), max(j.value ->> 5), ${BUCKET_SUMS}
    FROM (
      SELECT j.value, d.subscription_id, ${deliveryAccountSql(sql.raw("d"))} AS account_id
      FROM json_each(${JSON.stringify(rows)}) AS j JOIN deliveries d ON d.id = j.value ->> 0
    ) AS j
    WHERE j.account_id IS NOT NULL
    GROUP BY j.subscription_id, j.value ->> 1
    ON CONFLICT (account_id, subscription_id, hour) DO UPDATE SET attempts = attempts + excluded.attempts,
      succeeded = succeeded + excluded.succeeded, http_status = http_status + excluded.http_status,
      timeout = timeout + excluded.timeout, network = network + excluded.network,
      deliveries_failed = deliveries_failed + excluded.deliveries_failed, max_ms = max(max_ms, excluded.max_ms),
      ${BUCKET_ADDS}`);
}

/** For the sweep's hourly purge: hours past the rollups' retention (a scan of the small rollup table). */
export const pruneRollupsStatement = (env: Env, now: number) =>
  sqlRun(env.DB, sql`DELETE FROM attempt_rollups WHERE hour < ${now - ROLLUP_RETENTION_MS}`);

/** For deleting an account: its rows, one key range. */
export const eraseRollupsOfAccountStatement = (env: Env, accountId: string) =>
  sqlRun(env.DB, sql`DELETE FROM attempt_rollups WHERE account_id = ${accountId}`);

/** A rollup row as read back: the counts, and the duration histogram in bucket order. */
export interface RollupRow {
  subscriptionId: string;
  hour: number;
  attempts: number;
  succeeded: number;
  httpStatus: number;
  timeout: number;
  network: number;
  deliveriesFailed: number;
  maxMs: number;
  histogram: number[];
}

/** The columns to SELECT for `toRollupRow`. */
export const ROLLUP_COLUMNS = sql.raw(
  `subscription_id, hour, attempts, succeeded, http_status, timeout, network, deliveries_failed, max_ms, ${columns.join(", ")}`,
);

export type RawRollup = Record<string, number | string>;

export const toRollupRow = (r: RawRollup): RollupRow => ({
  subscriptionId: String(r.subscription_id),
  hour: Number(r.hour),
  attempts: Number(r.attempts),
  succeeded: Number(r.succeeded),
  httpStatus: Number(r.http_status),
  timeout: Number(r.timeout),
  network: Number(r.network),
  deliveriesFailed: Number(r.deliveries_failed),
  maxMs: Number(r.max_ms),
  histogram: columns.map((c) => Number(r[c] ?? 0)),
});
