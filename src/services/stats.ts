/**
 * Endpoint health at a glance, read from the hourly rollups (src/delivery/rollup.ts), never
 * from the log: a subscription's week is at most 169 rows. Windows are whole UTC hours: each
 * covers the hours that overlap its last 60 minutes, 24 hours or 7 days (so `from` is the
 * start of the hour that many hours ago, and the window is up to an hour longer).
 */
import { sql } from "drizzle-orm";
import { BUCKETS, bucketColumn, percentile } from "../core/duration-histogram";
import { notFound } from "../core/problem";
import { database, sqlAll } from "../db/client";
import { allShards } from "../db/shards";
import { freshSinceMarkSql, statusSql } from "../delivery/lifecycle";
import { HOUR_MS, hourOf, ROLLUP_COLUMNS, type RawRollup, type RollupRow, toRollupRow } from "../delivery/rollup";

export const WINDOWS = { hour: HOUR_MS, day: 24 * HOUR_MS, week: 7 * 24 * HOUR_MS } as const;
export type WindowName = keyof typeof WINDOWS;
const WINDOW_NAMES = Object.keys(WINDOWS) as WindowName[];

/** Hours in the dashboard's chart: the current one and the 23 before it. */
export const CHART_HOURS = 24;

export const windowFrom = (name: WindowName, now: number) => hourOf(now - WINDOWS[name]);

export interface WindowStats {
  from: string;
  attempts: number;
  succeeded: number;
  failed: number;
  /** succeeded / attempts, rounded to 4 places; null when there were no attempts. */
  success_rate: number | null;
  deliveries_failed: number;
  p50_ms: number | null;
  p95_ms: number | null;
}

export interface HourStats {
  hour: string;
  attempts: number;
  succeeded: number;
  http_status: number;
  timeout: number;
  network: number;
}

export const successRate = (succeeded: number, attempts: number) =>
  attempts === 0 ? null : Math.round((succeeded / attempts) * 10_000) / 10_000;

/** Rows added up: counts summed, histograms summed bucket by bucket, the largest duration kept. */
function total(rows: RollupRow[]) {
  const sum = { attempts: 0, succeeded: 0, deliveriesFailed: 0, maxMs: 0, histogram: new Array<number>(BUCKETS).fill(0) };
  for (const r of rows) {
    sum.attempts += r.attempts;
    sum.succeeded += r.succeeded;
    sum.deliveriesFailed += r.deliveriesFailed;
    sum.maxMs = Math.max(sum.maxMs, r.maxMs);
    r.histogram.forEach((n, i) => (sum.histogram[i] += n));
  }
  return sum;
}

/** The figures of a window from its rows (every row given counts). */
function windowStats(rows: RollupRow[], from: number): WindowStats {
  const t = total(rows);
  return {
    from: new Date(from).toISOString(),
    attempts: t.attempts,
    succeeded: t.succeeded,
    failed: t.attempts - t.succeeded,
    success_rate: successRate(t.succeeded, t.attempts),
    deliveries_failed: t.deliveriesFailed,
    p50_ms: percentile(t.histogram, 0.5, t.maxMs),
    p95_ms: percentile(t.histogram, 0.95, t.maxMs),
  };
}

const allWindows = (rows: RollupRow[], now: number) =>
  Object.fromEntries(
    WINDOW_NAMES.map((w) => {
      const from = windowFrom(w, now);
      return [w, windowStats(rows.filter((r) => r.hour >= from), from)];
    }),
  ) as Record<WindowName, WindowStats>;

function hourly(rows: RollupRow[], now: number): HourStats[] {
  const byHour = new Map(rows.map((r) => [r.hour, r]));
  const last = hourOf(now);
  return Array.from({ length: CHART_HOURS }, (_, i) => {
    const hour = last - (CHART_HOURS - 1 - i) * HOUR_MS;
    const r = byHour.get(hour);
    return {
      hour: new Date(hour).toISOString(),
      attempts: r?.attempts ?? 0,
      succeeded: r?.succeeded ?? 0,
      http_status: r?.httpStatus ?? 0,
      timeout: r?.timeout ?? 0,
      network: r?.network ?? 0,
    };
  });
}

export type SubscriptionStats = Record<WindowName, WindowStats> & { subscription_id: string; hourly: HourStats[] };

/** A week of one subscription's rollups (its account's key range). */
const rollupsOf = (env: Env, accountId: string, subscriptionId: string, now: number) =>
  sqlAll<RawRollup>(env.DB, sql`
    SELECT ${ROLLUP_COLUMNS} FROM attempt_rollups
    WHERE account_id = ${accountId} AND subscription_id = ${subscriptionId} AND hour >= ${windowFrom("week", now)}`);

export function shapeSubscriptionStats(subscriptionId: string, raw: RawRollup[], now: number): SubscriptionStats {
  const rows = raw.map(toRollupRow);
  return { subscription_id: subscriptionId, ...allWindows(rows, now), hourly: hourly(rows, now) };
}

/** The account's subscription's stats; another account's (or a missing) subscription is a 404. One round trip. */
export async function subscriptionStats(env: Env, accountId: string, subscriptionId: string, now = Date.now()) {
  const [owned, raw] = await database(env.DB).batch([
    sqlAll<{ id: string }>(env.DB, sql`SELECT id FROM subscriptions WHERE id = ${subscriptionId} AND account_id = ${accountId}`),
    rollupsOf(env, accountId, subscriptionId, now),
  ]);
  if (owned.length === 0) throw notFound("Subscription");
  return shapeSubscriptionStats(subscriptionId, raw, now);
}

/** For a page that has already read the subscription. */
export async function statsOfOwnedSubscription(env: Env, accountId: string, subscriptionId: string, now = Date.now()) {
  return shapeSubscriptionStats(subscriptionId, await rollupsOf(env, accountId, subscriptionId, now), now);
}

export interface FailingSubscription {
  subscription_id: string;
  account_id: string;
  target_host: string | null;
  active: boolean;
  consecutive_failures: number;
  attempts: number;
  failed: number;
  success_rate: number | null;
  deliveries_failed: number;
}

export interface Backlog {
  pending: number;
  due: number;
  in_flight: number;
  oldest_pending_at: string | null;
  oldest_pending_age_seconds: number | null;
}

export type OperatorStats = Record<WindowName, WindowStats> & {
  most_failing: { window: WindowName; from: string; subscriptions: FailingSubscription[] };
  backlog: Backlog;
};

const hostOf = (url: string) => {
  try {
    return new URL(url).host || null;
  } catch {
    return null;
  }
};

const HISTOGRAM_SUMS = sql.raw(Array.from({ length: BUCKETS }, (_, i) => `sum(${bucketColumn(i)}) AS ${bucketColumn(i)}`).join(", "));

/**
 * Every account's figures, the subscriptions with the most failed attempts in `rankWindow`,
 * and the backlog, in one round trip. The rollups of the week are read whole (no index on
 * hour: one would cost a written row per subscription and hour), summed in SQL per window
 * band; the backlog reads the small partial index of deliveries still to send or in flight.
 */
export async function operatorStats(env: Env, opts: { top: number; rankWindow: WindowName }, now = Date.now()): Promise<OperatorStats> {
  const hourFrom = windowFrom("hour", now);
  const dayFrom = windowFrom("day", now);
  const weekFrom = windowFrom("week", now);
  const rankFrom = windowFrom(opts.rankWindow, now);
  // Each shard's figures, read at once, then added up (src/db/shards.ts).
  const perShard = await Promise.all(allShards(env).map((shard) => readOperatorFigures(shard, opts, now)));
  const bands = perShard.flatMap((f) => f.bands);
  const failing = perShard
    .flatMap((f) => f.failing)
    .sort((x, y) => y.attempts - y.succeeded - (x.attempts - x.succeeded) || (x.subscription_id < y.subscription_id ? -1 : 1))
    .slice(0, opts.top);
  const oldests = perShard.map((f) => f.backlog?.oldest ?? null).filter((o): o is number => o !== null);
  const backlog = {
    pending: perShard.reduce((n, f) => n + (f.backlog?.pending ?? 0), 0),
    due: perShard.reduce((n, f) => n + (f.backlog?.due ?? 0), 0),
    in_flight: perShard.reduce((n, f) => n + (f.backlog?.in_flight ?? 0), 0),
    oldest: oldests.length ? Math.min(...oldests) : null,
  };
  const rows = bands.map((b) => [Number(b.band), toRollupRow(b)] as const);
  const upTo = (band: number) => rows.filter(([b]) => b <= band).map(([, row]) => row);
  const windows = {
    hour: windowStats(upTo(0), hourFrom),
    day: windowStats(upTo(1), dayFrom),
    week: windowStats(upTo(2), weekFrom),
  };
  const oldest = backlog.oldest;
  return {
    ...windows,
    most_failing: {
      window: opts.rankWindow,
      from: new Date(rankFrom).toISOString(),
      subscriptions: failing.map((f) => ({
        subscription_id: f.subscription_id,
        account_id: f.account_id,
        target_host: hostOf(f.url),
        active: Boolean(f.active),
        consecutive_failures: f.consecutive_failures,
        attempts: f.attempts,
        failed: f.attempts - f.succeeded,
        success_rate: successRate(f.succeeded, f.attempts),
        deliveries_failed: f.deliveries_failed,
      })),
    },
    backlog: {
      pending: backlog.pending,
      due: backlog.due,
      in_flight: backlog.in_flight,
      oldest_pending_at: oldest === null ? null : new Date(oldest).toISOString(),
      oldest_pending_age_seconds: oldest === null ? null : Math.max(0, Math.floor((now - oldest) / 1000)),
    },
  };
}

/** One shard's part of operatorStats, in one round trip. */
async function readOperatorFigures(env: Env, opts: { top: number; rankWindow: WindowName }, now: number) {
  const hourFrom = windowFrom("hour", now);
  const dayFrom = windowFrom("day", now);
  const weekFrom = windowFrom("week", now);
  const rankFrom = windowFrom(opts.rankWindow, now);
  const [bands, failing, [backlog]] = await database(env.DB).batch([
    // Band 0 is in every window, band 1 in the day's and the week's, band 2 only in the week's.
    sqlAll<RawRollup & { band: number }>(env.DB, sql`
      SELECT CASE WHEN hour >= ${hourFrom} THEN 0 WHEN hour >= ${dayFrom} THEN 1 ELSE 2 END AS band, '' AS subscription_id,
        0 AS hour, sum(attempts) AS attempts, sum(succeeded) AS succeeded, sum(http_status) AS http_status,
        sum(timeout) AS timeout, sum(network) AS network, sum(deliveries_failed) AS deliveries_failed, max(max_ms) AS max_ms,
        ${HISTOGRAM_SUMS}
      FROM attempt_rollups WHERE hour >= ${weekFrom} GROUP BY band`),
    sqlAll<{
      subscription_id: string;
      account_id: string;
      url: string;
      active: number;
      consecutive_failures: number;
      attempts: number;
      succeeded: number;
      deliveries_failed: number;
    }>(env.DB, sql`
      SELECT r.subscription_id, r.account_id, s.url, s.active, s.consecutive_failures, sum(r.attempts) AS attempts,
        sum(r.succeeded) AS succeeded, sum(r.deliveries_failed) AS deliveries_failed
      FROM attempt_rollups r JOIN subscriptions s ON s.id = r.subscription_id
      WHERE r.hour >= ${rankFrom}
      GROUP BY r.account_id, r.subscription_id
      HAVING sum(r.attempts) > sum(r.succeeded)
      ORDER BY sum(r.attempts) - sum(r.succeeded) DESC, r.subscription_id
      LIMIT ${opts.top}`),
    // Unfinished deliveries: those with a next_attempt_at (deliveries_due), and the new ones
    // the sweep has not yet given one (due when created; lifecycle's freshSinceMarkSql).
    sqlAll<{ pending: number; due: number; in_flight: number; oldest: number | null }>(env.DB, sql`
      SELECT count(*) FILTER (WHERE status = 'pending') AS pending,
        count(*) FILTER (WHERE status = 'pending' AND due_at <= ${now}) AS due,
        count(*) FILTER (WHERE status = 'in_flight') AS in_flight,
        min(created_at) FILTER (WHERE status = 'pending') AS oldest
      FROM (SELECT ${statusSql(sql.raw("d"), now)} AS status, next_attempt_at AS due_at, created_at FROM deliveries d WHERE next_attempt_at IS NOT NULL
        UNION ALL SELECT ${statusSql(sql.raw("f"), now)}, created_at, created_at FROM (${freshSinceMarkSql()}) AS f)`),
  ]);
  return { bands, failing, backlog };
}
