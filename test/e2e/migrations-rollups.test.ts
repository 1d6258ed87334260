/// <reference types="node" />
/**
 * Migration 0009 upgrades a deployment with a log in place: it creates the rollups and fills
 * them from the last 8 days of that log, bucketing durations exactly as the live path does
 * (src/core/duration-histogram.ts), so the stats match the log from the first request on.
 */
import { expect, it } from "vitest";
import { migrateBefore, migrateFrom, useDatabases } from "./migration-harness";
import { BUCKET_FLOORS, BUCKETS, bucketColumn, bucketOf } from "../../src/core/duration-histogram";

const { DB: db } = await useDatabases("DB");

const HOUR = 3_600_000;

it("0009 rolls up the last 8 days of an existing log per subscription and hour, durations bucketed as the live path does", async () => {
  await migrateBefore(db, "0009_");

  const now = Date.now();
  const thisHour = now - (now % HOUR);
  // Durations on both sides of every bucket's floor, spread over a subscription's deliveries.
  const durations = BUCKET_FLOORS.flatMap((f) => (f === 0 ? [0] : [f - 1, f])).concat([200_000]);
  const insert: D1PreparedStatement[] = [
    db.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?), ('acct_2', 'b', 'pro', ?, ?)").bind(now, now, now, now),
    db.prepare("INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES ('evt_1', 'acct_1', 'document.updated', NULL, '{}', ?, ?), ('evt_2', 'acct_2', 'document.updated', NULL, '{}', ?, ?)").bind(now, now, now, now),
  ];
  const delivery = (id: string, event: string, sub: string, account: string, status: string, last: unknown[] | null) =>
    db
      .prepare(
        "INSERT INTO deliveries (id, event_id, subscription_id, account_id, status, attempts_count, series_base, next_attempt_at, lease_until, last_attempt, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, 0, NULL, NULL, ?, ?, ?)",
      )
      .bind(id, event, sub, account, status, last === null ? null : JSON.stringify(last), now, now);
  const earlier = (id: string, deliveryId: string, number: number, startedAt: number, durationMs: number, outcome: string) =>
    db
      .prepare(
        "INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, outcome, status_code, error, response_headers, response_body) VALUES (?, ?, ?, ?, ?, ?, 500, NULL, '{}', '')",
      )
      .bind(id, deliveryId, number, startedAt, durationMs, outcome);
  const last = (startedAt: number, durationMs: number, outcome: string) => [`att_${startedAt}_${durationMs}`, 1, startedAt, durationMs, outcome, 200, null, {}, "ok"];

  // sub_a: one delivered delivery per duration, this hour.
  durations.forEach((d, i) => insert.push(delivery(`dlv_a${i}`, "evt_1", "sub_a", "acct_1", "delivered", last(thisHour + 1000, d, "success"))));
  // sub_a, two hours ago: a delivery failed after a 500, a timeout and a network error (latest in its row).
  insert.push(
    earlier("att_f1", "dlv_f", 1, thisHour - 2 * HOUR + 10, 30, "http_status"),
    earlier("att_f2", "dlv_f", 2, thisHour - 2 * HOUR + 20, 10_000, "timeout"),
    delivery("dlv_f", "evt_1", "sub_a", "acct_1", "failed", last(thisHour - 2 * HOUR + 30, 5, "network")),
  );
  // Outside the 8 days: not rolled up. Never attempted: nothing to roll up.
  insert.push(delivery("dlv_old", "evt_1", "sub_a", "acct_1", "delivered", last(now - 9 * 24 * HOUR, 7, "success")));
  insert.push(delivery("dlv_new", "evt_1", "sub_a", "acct_1", "pending", null));
  // Another account's subscription.
  insert.push(delivery("dlv_b", "evt_2", "sub_b", "acct_2", "delivered", last(thisHour + 5, 3, "success")));
  await db.batch(insert);

  await migrateFrom(db);

  const { results } = await db.prepare("SELECT * FROM attempt_rollups ORDER BY account_id, subscription_id, hour").all<Record<string, number | string>>();
  const histogram = (ds: number[]) => {
    const h = Object.fromEntries(Array.from({ length: BUCKETS }, (_, i) => [bucketColumn(i), 0]));
    for (const d of ds) h[bucketColumn(bucketOf(d))]++;
    return h;
  };
  expect(results).toEqual([
    {
      account_id: "acct_1", subscription_id: "sub_a", hour: thisHour - 2 * HOUR,
      attempts: 3, succeeded: 0, http_status: 1, timeout: 1, network: 1, deliveries_failed: 1, max_ms: 10_000,
      ...histogram([30, 10_000, 5]),
    },
    {
      account_id: "acct_1", subscription_id: "sub_a", hour: thisHour,
      attempts: durations.length, succeeded: durations.length, http_status: 0, timeout: 0, network: 0, deliveries_failed: 0, max_ms: 200_000,
      ...histogram(durations),
    },
    {
      account_id: "acct_2", subscription_id: "sub_b", hour: thisHour,
      attempts: 1, succeeded: 1, http_status: 0, timeout: 0, network: 0, deliveries_failed: 0, max_ms: 3,
      ...histogram([3]),
    },
  ]);
  // Two durations in every bucket: its floor, and the one just below the next floor (200,000 ms in the last).
  const row = results[1];
  expect(Array.from({ length: BUCKETS }, (_, i) => row[bucketColumn(i)])).toEqual(new Array(BUCKETS).fill(2));
  // Keyed by its primary key alone.
  await expect(db.prepare("SELECT rowid FROM attempt_rollups").all()).rejects.toThrow(/no such column: rowid/);
});
