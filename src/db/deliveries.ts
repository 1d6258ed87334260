/** The delivery engine's D1 statements: claim a batch in one round trip, record it in one more. */
import { sql } from "drizzle-orm";
import type { FormatEvent } from "../core/formats";
import type { AttemptVerdict } from "../core/retry";
import type { AttemptRecord, SendTarget } from "../delivery/send";
import { database, sqlAll, sqlRun } from "./client";

export interface ClaimedDelivery {
  id: string;
  /** 1 for the first try of the current series. */
  attemptInSeries: number;
  /** The attempt's number across the delivery's whole life. */
  attemptNumber: number;
  consecutiveFailures: number;
  event: FormatEvent;
  target: SendTarget;
}

interface ClaimRow {
  id: string;
  attempts_count: number;
  series_base: number;
  event_id: string;
  type: string;
  subject: string | null;
  data: string;
  timestamp: number;
  sub_id: string;
  url: string;
  format: string;
  headers: string;
  secret_enc: string | null;
  previous_secret_enc: string | null;
  previous_secret_until: number | null;
  derived_enc: string | null;
  consecutive_failures: number;
  owner: string;
}

/** Claimable: pending, due (a second of slack for queue timing), subscription active. */
export async function claimDeliveries(env: Env, ids: string[], now: number, leaseMs: number) {
  const db = database(env.DB);
  const idList = JSON.stringify(ids);
  const [, claimed, rows] = await db.batch([
    // A subscription switched off (or deleted) meanwhile is not sent to.
    sqlRun(env.DB, sql`
      UPDATE deliveries SET status = 'skipped', next_attempt_at = NULL, updated_at = ${now}
      WHERE id IN (SELECT value FROM json_each(${idList})) AND status = 'pending'
        AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = deliveries.subscription_id AND s.active = 1)`),
    // The lease makes a second copy of the same message a no-op.
    sqlAll<{ id: string }>(env.DB, sql`
      UPDATE deliveries SET status = 'in_flight', lease_until = ${now + leaseMs}, updated_at = ${now}
      WHERE id IN (SELECT value FROM json_each(${idList})) AND status = 'pending'
        AND (next_attempt_at IS NULL OR next_attempt_at <= ${now + 1000})
      RETURNING id`),
    sqlAll<ClaimRow>(env.DB, sql`
      SELECT d.id, d.attempts_count, d.series_base, e.id AS event_id, e.type, e.subject, e.data, e.timestamp,
        s.id AS sub_id, s.url, s.format, s.headers, s.secret_enc, s.previous_secret_enc, s.previous_secret_until,
        s.derived_enc, s.consecutive_failures, coalesce(a.email, a.name) AS owner
      FROM deliveries d
        JOIN events e ON e.id = d.event_id
        JOIN subscriptions s ON s.id = d.subscription_id
        JOIN accounts a ON a.id = d.account_id
      WHERE d.id IN (SELECT value FROM json_each(${idList})) AND d.status = 'in_flight' AND d.lease_until = ${now + leaseMs}`),
  ]);
  const mine = new Set(claimed.map((r) => r.id));
  return rows
    .filter((r) => mine.has(r.id))
    .map(
      (r): ClaimedDelivery => ({
        id: r.id,
        attemptInSeries: r.attempts_count - r.series_base + 1,
        attemptNumber: r.attempts_count + 1,
        consecutiveFailures: r.consecutive_failures,
        event: { id: r.event_id, type: r.type, subject: r.subject, data: r.data, timestamp: r.timestamp, owner: r.owner },
        target: {
          id: r.sub_id,
          url: r.url,
          format: r.format,
          headers: JSON.parse(r.headers),
          secretEnc: r.secret_enc,
          previousSecretEnc: r.previous_secret_enc,
          previousSecretUntil: r.previous_secret_until,
          derivedEnc: r.derived_enc,
        },
      }),
    );
}

export interface Recorded {
  attempt: AttemptRecord;
  verdict: AttemptVerdict;
}

const statusOf = (v: AttemptVerdict) => (v.kind === "retry" ? "pending" : v.kind);

/** Every attempt of a batch and the new state of its deliveries, in one D1 batch. */
export function recordStatements(env: Env, results: Recorded[], now: number) {
  const db = database(env.DB);
  const attemptRows = results.map(({ attempt: a }) => [
    a.id,
    a.deliveryId,
    a.number,
    a.startedAt,
    a.durationMs,
    a.outcome,
    a.statusCode,
    a.error,
    a.responseHeaders === null ? null : JSON.stringify(a.responseHeaders),
    a.responseBody,
  ]);
  const stateRows = results.map(({ attempt, verdict }) => [
    attempt.deliveryId,
    statusOf(verdict),
    verdict.kind === "retry" ? verdict.nextAttemptAt : null,
  ]);
  return [
    sqlRun(env.DB, sql`
      INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, outcome, status_code, error,
        response_headers, response_body)
      SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7,
        value ->> 8, value ->> 9
      FROM json_each(${JSON.stringify(attemptRows)})
      -- A delivery deleted while it was being sent (its account deleted) leaves no orphan attempt.
      WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.id = value ->> 1)`),
    sqlRun(env.DB, sql`
      UPDATE deliveries SET status = j.value ->> 1, next_attempt_at = j.value ->> 2, lease_until = NULL,
        attempts_count = attempts_count + 1, updated_at = ${now}
      FROM json_each(${JSON.stringify(stateRows)}) AS j
      WHERE deliveries.id = j.value ->> 0`),
  ] as const;
}

export async function recordAttempts(env: Env, results: Recorded[], now: number): Promise<void> {
  if (results.length === 0) return;
  await database(env.DB).batch(recordStatements(env, results, now));
}
