/**
 * The one owner of a delivery's state: every write of deliveries.status, next_attempt_at,
 * lease_until and attempts_count, and of the claims' `leases`, is one of these transitions
 * (named as in TRANSITIONS, src/core/delivery-state.ts); everything else only reads them, and
 * reads a delivery's status through statusSql (in flight is a lease, not a column).
 * Most return statements, so callers put them in their own D1 batch.
 */
import { and, eq, getTableColumns, inArray, type SQL, sql } from "drizzle-orm";
import { type DeliveryStatus, statusAfter } from "../core/delivery-state";
import type { FormatEvent } from "../core/formats";
import { attemptIdOf } from "../core/ids";
import type { AttemptVerdict } from "../core/retry";
import { SYSTEM_ACCOUNT_ID } from "../core/operational";
import { database, sqlAll, sqlRun } from "../db/client";
import { eventIdSql, eventKeyOf, eventKeySql } from "../db/event-keys";
import { livesHereSql } from "../db/shards";
import { deliveries, subscriptions } from "../db/schema";
import { encodeAttempt } from "./attempt-log";
import { rollupStatement } from "./rollup";
import type { AttemptRecord, SendTarget } from "./send";

/**
 * A delivery as emit creates it. A pending one is due at once, and is created with no
 * next_attempt_at (unless written late, see lateDueSql): it stays out of the index
 * deliveries_due (one row written fewer per delivery) while its message is on its way, and the
 * sweep finds it by its created_at should the message be lost (promoteFreshStatements). `dueAt` (core/delivery-state) is
 * when it is due, whichever way it is stored.
 */
export interface NewDelivery {
  id: string;
  eventId: string;
  subscriptionId: string;
  status: "pending" | "skipped";
}

/** The database's clock when the statement runs, in ms. */
const DB_NOW_MS = sql.raw(`CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)`);

/**
 * A new pending delivery's next_attempt_at: none (see NewDelivery), unless the statement runs
 * so long after `now` (its created_at) that a sweep may already have moved its mark past
 * created_at (FRESH_GRACE_MS after it) without seeing it: then it is written due at created_at,
 * in deliveries_due, where the sweep finds it if its message is lost. Half the grace is left for
 * the clocks of the Worker and the database to differ. Costs nothing when the write is prompt.
 */
const lateDueSql = (pending: SQL, now: number) =>
  sql`CASE WHEN ${pending} AND ${DB_NOW_MS} - ${now} > ${FRESH_GRACE_MS / 2} THEN ${now} END`;

/** create: one JSON parameter for every row, so 100 events x 20 subscriptions stay within D1's 100 bound parameters. */
export function createStatement(env: Env, rows: NewDelivery[], now: number) {
  const values = rows.map((d) => [d.id, d.eventId, d.subscriptionId, d.status]);
  return sqlRun(env.DB, sql`
    INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base,
      next_attempt_at, created_at, updated_at)
    SELECT value ->> 0, ${eventKeySql(sql`value ->> 1`)}, value ->> 2, value ->> 3, 0, 0,
      ${lateDueSql(sql`value ->> 3 = 'pending'`, now)}, ${now}, ${now}
    FROM json_each(${JSON.stringify(values)})`);
}

/** A UUIDv4 made by SQLite, as `crypto.randomUUID()` makes them (lowercase hex, version 4, variant 10xx). */
const SQL_UUID = sql.raw(`lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4' || substr(lower(hex(randomblob(2))), 2)
  || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2) || '-' || lower(hex(randomblob(6)))`);

/**
 * create, matching in SQL: each event (rows `[id, account_id, type, subject]`) to every subscription
 * of its account whose patterns and subjects take it, pending (or skipped when the subscription is
 * off; with no next_attempt_at, see NewDelivery), in the statement that inserts them. Exactly core/matching's `subscriptionMatches` (a
 * property test holds them together); reading the subscriptions in the same statement is what lets
 * no change made before the call escape it. RETURNING says what was created.
 */
export function fanOutStatement(env: Env, events: unknown[][], now: number) {
  return sqlAll<{ id: string; event_id: string; subscription_id: string; status: "pending" | "skipped" }>(env.DB, sql`
    INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base,
      next_attempt_at, created_at, updated_at)
    SELECT 'dlv_' || ${SQL_UUID}, ${eventKeySql(sql`e.value ->> 0`)}, s.id, CASE WHEN s.active THEN 'pending' ELSE 'skipped' END,
      0, 0, ${lateDueSql(sql`s.active`, now)}, ${now}, ${now}
    FROM json_each(${JSON.stringify(events)}) AS e
      JOIN subscriptions s ON s.account_id = e.value ->> 1
    WHERE EXISTS (
        SELECT 1 FROM json_each(s.event_types) AS p
        WHERE p.value = '*' OR p.value = e.value ->> 2
          OR (substr(p.value, -2) = '.*' AND substr(e.value ->> 2, 1, length(p.value) - 1) = substr(p.value, 1, length(p.value) - 1)))
      AND (s.subjects IS NULL OR json_type(s.subjects) = 'null'
        OR EXISTS (SELECT 1 FROM json_each(s.subjects) AS q WHERE q.value = e.value ->> 3))
    RETURNING id, ${eventIdSql(sql`event_id`)} AS event_id, subscription_id, status`);
}

/** createTestSend: the test event's delivery, already sent; settleStatements in the same batch finishes it. */
export function createTestSendStatement(env: Env, d: Omit<NewDelivery, "status" | "nextAttemptAt">, now: number) {
  return sqlRun(env.DB, sql`
    INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base,
      created_at, updated_at)
    VALUES (${d.id}, ${eventKeyOf(d.eventId)}, ${d.subscriptionId}, 'in_flight', 0, 0, ${now}, ${now})`);
}

export interface ClaimedDelivery {
  id: string;
  /** 1 for the first try of the current series. */
  attemptInSeries: number;
  /** The attempt's number across the delivery's whole life. */
  attemptNumber: number;
  consecutiveFailures: number;
  /** The subscription's throttle, sends a second; null for none. */
  throttleRate: number | null;
  event: FormatEvent;
  target: SendTarget;
}

/** What a claim read, as JSON (see claim): each delivery once, and each event and target it needs once. */
interface ClaimRead {
  /** `[id, attempts_count, series_base, event_id, subscription_id]` */
  deliveries: string;
  /** event id -> `[type, subject, data, timestamp]` */
  events: string;
  /** subscription id -> `[url, format, headers, secret_enc, previous_secret_enc, previous_secret_until, derived_enc,
   * consecutive_failures, throttle_rate, owner]` */
  targets: string;
}
type TargetRow = [string, string, string, string | null, string | null, number | null, string | null, number, number | null, string];

/**
 * A delivery is in flight while a live lease holds it at its current attempts_count: a claim
 * writes one `leases` row for its whole batch (migration 0015), never the deliveries it takes,
 * and settling one (attempts_count + 1), deferring it (taken out of the lease) or the lease's
 * end lets it go. `d` names a deliveries row (its table or an alias) with id, status and
 * attempts_count. Rows written as in_flight (before migration 0015, and a test send within
 * its own batch) say so themselves. The subquery does not depend on `d`: SQLite reads the live
 * leases once per statement, into a temporary index, however many deliveries it asks about. The
 * key is one string on purpose: `(id, attempts_count) NOT IN (...)`, or a bare indexed `d.id`,
 * makes SQLite walk the candidates once per held delivery (measured: 6,700 rows read to claim 80
 * deliveries beside a lease of 80, against 320 this way).
 */
export const heldSql = (d: SQL, now: number) => sql`(${d}.status = 'pending' AND ${d}.id || ' ' || ${d}.attempts_count IN (
  SELECT (h.value ->> 0) || ' ' || (h.value ->> 2) FROM leases AS l, json_each(l.held) AS h WHERE l.until > ${now} AND h.value ->> 1 > ${now}))`;

/** A delivery's status as everyone outside the consumer sees it: in_flight while a lease holds it. */
export const statusSql = (d: SQL, now: number) => sql<DeliveryStatus>`(CASE WHEN ${heldSql(d, now)} THEN 'in_flight' ELSE ${d}.status END)`;

/**
 * The deliveries whose status, as statusSql says it, is `status`: what a filter by status reads,
 * and, as "pending", what the claim, a skip and the sweep may take (never one being sent).
 */
export function statusIsSql(d: SQL, status: DeliveryStatus, now: number): SQL {
  if (status === "in_flight") return sql`(${d}.status = 'in_flight' OR ${heldSql(d, now)})`;
  if (status === "pending") return sql`(${d}.status = 'pending' AND NOT ${heldSql(d, now)})`;
  return sql`${d}.status = ${status}`;
}

const TABLE = sql`${deliveries}`;

/** A deliveries row as a reader selects it with drizzle: its status as statusSql says it. */
export const deliveryColumns = (now = Date.now()) => ({ ...getTableColumns(deliveries), status: statusSql(TABLE, now) });

/** A filter by status for a drizzle query on the deliveries table. */
export const deliveryStatusIs = (status: DeliveryStatus, now = Date.now()) => statusIsSql(TABLE, status, now);

/**
 * A delivery `d` (a table name or alias) of the account: one of its subscriptions', live or
 * deleted. A delivery keeps no account id of its own (migration 0016): a subscription never
 * changes account, and a deleted one stays in deleted_subscriptions while it has deliveries.
 * Two lookups by key.
 */
export const deliveryOfAccountSql = (d: SQL, accountId: string) => sql`(
  EXISTS (SELECT 1 FROM subscriptions WHERE id = ${d}.subscription_id AND account_id = ${accountId})
  OR EXISTS (SELECT 1 FROM deleted_subscriptions WHERE account_id = ${accountId} AND id = ${d}.subscription_id))`;

/** The account of a delivery `d`, by its subscription, live or deleted (see deliveryOfAccountSql). */
export const deliveryAccountSql = (d: SQL) => sql<string | null>`coalesce(
  (SELECT account_id FROM subscriptions WHERE id = ${d}.subscription_id),
  (SELECT account_id FROM deleted_subscriptions WHERE id = ${d}.subscription_id))`;

/** A filter for a drizzle query on the deliveries table: the account's (deliveryOfAccountSql). */
export const deliveryOfAccount = (accountId: string) => deliveryOfAccountSql(TABLE, accountId);

const idleSlots: string[] = [];

/**
 * A lease slot for one consumer batch: a `leases` row this isolate reuses, one batch at a
 * time, so that a claim writes one row however many batches came before (the sweep drops the
 * slots of isolates gone for an hour). Once the batch ends none of its deliveries is in flight
 * any more, so the next batch may overwrite its lease.
 */
export async function withLeaseSlot<T>(work: (slot: string) => Promise<T>): Promise<T> {
  const slot = idleSlots.pop() ?? `slot_${crypto.randomUUID()}`;
  try {
    return await work(slot);
  } finally {
    idleSlots.push(slot);
  }
}

/**
 * claim: pending, due (a second of slack for queue timing), not held by a live lease,
 * subscription active; the rest of the batch is left alone. One row written for the batch:
 * the slot's lease, listing what it took. `ids` in the order they will be sent: each is leased
 * by its place in it (core/delivery-state leaseMs), a throttled one for `leases.throttled`;
 * the claimed come back in that order.
 */
export async function claim(env: Env, ids: string[], now: number, leases: { byPosition: number[]; throttled: number }, slot: string) {
  const db = database(env.DB);
  const idList = JSON.stringify(ids);
  const leaseList = JSON.stringify(ids.map((id, i) => [id, now + leases.byPosition[i]]));
  const [, taken, rows] = await db.batch([
    // A subscription switched off (or deleted) meanwhile is not sent to.
    sqlRun(env.DB, sql`
      UPDATE deliveries SET status = 'skipped', next_attempt_at = NULL, updated_at = ${now}
      WHERE id IN (SELECT value FROM json_each(${idList})) AND ${statusIsSql(TABLE, "pending", now)}
        AND NOT EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = deliveries.subscription_id AND s.active = 1)`),
    // The lease makes a second copy of the same message, or a sweep's, a no-op while it holds.
    sqlAll<{ held: string }>(env.DB, sql`
      INSERT INTO leases (slot, at, until, held)
      SELECT ${slot}, ${now}, max(c.until), json_group_array(json_array(c.id, c.until, c.attempts_count))
      FROM (
        SELECT d.id, d.attempts_count,
          CASE WHEN EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id AND s.throttle_rate IS NOT NULL)
            THEN ${now + leases.throttled} ELSE l.value ->> 1 END AS until
        FROM json_each(${leaseList}) AS l JOIN deliveries d ON d.id = l.value ->> 0
        WHERE ${statusIsSql(sql.raw("d"), "pending", now)} AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= ${now + 1000})
          -- Not an account frozen here by a move, or moved away (src/delivery/account-move.ts): the target sends those.
          AND NOT EXISTS (SELECT 1 FROM subscriptions s JOIN accounts a ON a.id = s.account_id
            WHERE s.id = d.subscription_id AND a.id != ${SYSTEM_ACCOUNT_ID} AND NOT ${livesHereSql(env, "a")})) AS c
      HAVING count(*) > 0
      ON CONFLICT (slot) DO UPDATE SET at = excluded.at, until = excluded.until, held = excluded.held
      RETURNING held`),
    // One row: the batch's deliveries, and each event and target among them once (a fan-out's batch
    // holds a few events for many subscriptions, a single-subscription batch one target for many
    // events), as JSON: repeating them per delivery made most of what D1 carried back to the consumer.
    sqlAll<ClaimRead>(env.DB, sql`
      WITH taken AS MATERIALIZED (
        SELECT d.id, d.attempts_count, d.series_base, d.event_id, d.subscription_id
        FROM leases AS l, json_each(l.held) AS h JOIN deliveries d ON d.id = h.value ->> 0
        WHERE l.slot = ${slot} AND l.at = ${now})
      SELECT
        (SELECT json_group_array(json_array(id, attempts_count, series_base, ${eventIdSql(sql`event_id`)}, subscription_id))
          FROM taken) AS deliveries,
        (SELECT json_group_object(${eventIdSql(sql`e.id`)}, json_array(e.type, e.subject, e.data, e.timestamp))
          FROM events e WHERE e.id IN (SELECT event_id FROM taken)) AS events,
        (SELECT json_group_object(s.id, json_array(s.url, s.format, s.headers, s.secret_enc, s.previous_secret_enc,
            s.previous_secret_until, s.derived_enc, s.consecutive_failures, s.throttle_rate, coalesce(a.email, a.name)))
          FROM subscriptions s JOIN accounts a ON a.id = s.account_id WHERE s.id IN (SELECT subscription_id FROM taken)) AS targets`),
  ]);
  const position = new Map(ids.map((id, i) => [id, i]));
  // The lease this claim wrote says what it took (none written: nothing taken).
  const mine = new Set(taken.flatMap((r) => (JSON.parse(r.held) as [string][]).map(([id]) => id)));
  const [read] = rows;
  const events = JSON.parse(read.events) as Record<string, [string, string | null, string, number]>;
  const targets = JSON.parse(read.targets) as Record<string, TargetRow>;
  const headersOf = new Map(Object.entries(targets).map(([id, t]) => [id, JSON.parse(t[2]) as Record<string, string>]));
  const claimed: ClaimedDelivery[] = [];
  // A delivery whose event, subscription or account is gone (deleted meanwhile) is not sent.
  for (const [id, attemptsCount, seriesBase, eventId, subscriptionId] of JSON.parse(read.deliveries) as [string, number, number, string, string][]) {
    const e = events[eventId];
    const t = targets[subscriptionId];
    if (!mine.has(id) || !e || !t) continue;
    claimed.push({
      id,
      attemptInSeries: attemptsCount - seriesBase + 1,
      attemptNumber: attemptsCount + 1,
      consecutiveFailures: t[7],
      throttleRate: t[8],
      event: { id: eventId, type: e[0], subject: e[1], data: e[2], timestamp: e[3], owner: t[9] },
      target: {
        id: subscriptionId,
        url: t[0],
        format: t[1],
        headers: headersOf.get(subscriptionId)!,
        secretEnc: t[3],
        previousSecretEnc: t[4],
        previousSecretUntil: t[5],
        derivedEnc: t[6],
      },
    });
  }
  return claimed.sort((a, b) => position.get(a.id)! - position.get(b.id)!);
}

export interface Recorded {
  attempt: AttemptRecord;
  verdict: AttemptVerdict;
}

/**
 * settle: every attempt of a batch and the new state of its deliveries, for one D1 batch.
 * The attempt goes into its delivery's row; the one it replaces there moves to `attempts`
 * (so a delivery that succeeds at once writes no attempts row at all).
 */
export function settleStatements(env: Env, results: Recorded[], now: number) {
  const stateRows = results.map(({ attempt, verdict }) => [
    attempt.deliveryId,
    statusAfter(verdict),
    verdict.kind === "retry" ? verdict.nextAttemptAt : null,
    encodeAttempt(attempt),
    // The id of the attempt this one replaces in the row, if any (an attempt's id is not stored).
    attempt.number > 1 ? attemptIdOf(attempt.deliveryId, attempt.number - 1) : null,
  ]);
  const states = JSON.stringify(stateRows);
  // (A delivery deleted while it was being sent, its account deleted, matches nothing here.)
  const update = sqlRun(env.DB, sql`
    UPDATE deliveries SET status = j.value ->> 1, next_attempt_at = j.value ->> 2, lease_until = NULL,
      attempts_count = attempts_count + 1, updated_at = ${now},
      -- Its start as ms after the delivery's created_at (attempt-log.ts: the row's own fields are not repeated).
      last_attempt = json_replace(j.value ->> 3, '$[0]', ((j.value ->> 3) ->> 0) - deliveries.created_at)
    FROM json_each(${states}) AS j
    WHERE deliveries.id = j.value ->> 0`);
  // A batch of first attempts has no earlier attempt to move to `attempts`: no statement for it.
  if (results.every(({ attempt }) => attempt.number === 1)) return [update, rollupStatement(env, results)] as const;
  return [
    sqlRun(env.DB, sql`
      INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, outcome, status_code, error,
        response_headers, response_body)
      SELECT CASE WHEN p.n = 9 THEN p.a ->> 0 ELSE p.derived END, p.id,
        CASE WHEN p.n = 7 THEN p.attempts_count ELSE p.a ->> (p.n - 8) END,
        CASE WHEN p.n = 7 THEN p.created_at + (p.a ->> 0) ELSE p.a ->> (p.n - 7) END,
        p.a ->> (p.n - 6), p.a ->> (p.n - 5), p.a ->> (p.n - 4), p.a ->> (p.n - 3), p.a ->> (p.n - 2), p.a ->> (p.n - 1)
      FROM (
        -- n: the layout (attempt-log.ts): 7 fields now; 9 (id, number, start first) or 8 (number, start) before 2026-12-02.
        SELECT d.id, d.attempts_count, d.created_at, d.last_attempt AS a, json_array_length(d.last_attempt) AS n, j.value ->> 4 AS derived
        FROM json_each(${states}) AS j JOIN deliveries d ON d.id = j.value ->> 0
        WHERE d.last_attempt IS NOT NULL
      ) AS p`),
    update,
    rollupStatement(env, results),
  ] as const;
}

export async function settle(env: Env, results: Recorded[], now: number): Promise<void> {
  if (results.length === 0) return;
  await database(env.DB).batch(settleStatements(env, results, now));
}

/**
 * defer: claimed but not sent (its subscription's throttle had no permit for it): pending again,
 * due at its `[id, next_attempt_at]`, no attempt counted, and out of its lease, so its own
 * message or the sweep takes it again at that time.
 */
export async function defer(env: Env, rows: [string, number][], now: number): Promise<void> {
  const list = JSON.stringify(rows);
  const ofList = sql`(SELECT value ->> 0 FROM json_each(${list}))`;
  await database(env.DB).batch([
    sqlRun(env.DB, sql`
      UPDATE deliveries SET status = 'pending', next_attempt_at = j.value ->> 1, lease_until = NULL, updated_at = ${now}
      FROM json_each(${list}) AS j
      WHERE deliveries.id = j.value ->> 0 AND deliveries.status IN ('pending', 'in_flight')`),
    sqlRun(env.DB, sql`
      UPDATE leases SET held = (SELECT json_group_array(json(h.value)) FROM json_each(leases.held) AS h WHERE h.value ->> 0 NOT IN ${ofList})
      WHERE until > ${now} AND EXISTS (SELECT 1 FROM json_each(leases.held) AS h WHERE h.value ->> 0 IN ${ofList})`),
  ]);
}

const skipped = (now: number) => ({ status: "skipped" as const, nextAttemptAt: null, updatedAt: now });

/** skip: what a subscription switched off or deleted still had to send (one being sent settles as its attempt says). */
export const skipPendingOfSubscription = (env: Env, subscriptionId: string, now: number) =>
  database(env.DB)
    .update(deliveries)
    .set(skipped(now))
    .where(and(eq(deliveries.subscriptionId, subscriptionId), deliveryStatusIs("pending", now)));

/** skip: what a closing listen session's subscriptions still had to send; batch it before deleting them. */
export function skipPendingOfSession(env: Env, sessionId: string, now: number) {
  const db = database(env.DB);
  const ofSession = db.select({ id: subscriptions.id }).from(subscriptions).where(eq(subscriptions.listenSessionId, sessionId));
  return db
    .update(deliveries)
    .set(skipped(now))
    .where(and(deliveryStatusIs("pending", now), inArray(deliveries.subscriptionId, ofSession)));
}

/**
 * How long a new delivery's message has to reach a consumer before the sweep stops trusting
 * it: a delivery created this long ago, still pending or in flight with no next_attempt_at,
 * is given one (its created_at), and from then on the sweep finds it through deliveries_due.
 */
export const FRESH_GRACE_MS = 30_000;
/** The most of the log one sweep scans for them (it catches up after an outage, 10 minutes at a time). */
const FRESH_WINDOW_MAX_MS = 10 * 60_000;

/** Where the last sweep's scan for fresh deliveries ended; absent (never, by migration 0014) reads as the start of time. */
const FRESH_MARK = sql.raw(`(SELECT at FROM sweep_marks WHERE name = 'fresh')`);
const SINCE_MARK = sql`coalesce(${FRESH_MARK}, 0)`;

/**
 * The deliveries created since `from` (and before `to`) that are unfinished and have no
 * next_attempt_at, of one account or of all: one range of deliveries_subscription per
 * subscription, deleted ones included (a delivery in flight when its subscription went). The
 * join's order is forced (CROSS JOIN): left to itself, SQLite scans the whole log.
 */
export const freshUnfinishedSql = (from: SQL, to?: SQL, accountId?: string) => {
  const own = accountId === undefined ? sql`` : sql`WHERE account_id = ${accountId}`;
  return sql`
    SELECT d.id, d.status, d.attempts_count, d.created_at FROM (SELECT id FROM subscriptions ${own} UNION SELECT id FROM deleted_subscriptions ${own}) AS s
      CROSS JOIN deliveries d INDEXED BY deliveries_subscription
        ON d.subscription_id = s.id AND d.created_at >= ${from} ${to === undefined ? sql`` : sql`AND d.created_at < ${to}`}
    WHERE d.next_attempt_at IS NULL AND d.status IN ('pending', 'in_flight')`;
};

/** The deliveries that may have no next_attempt_at yet while unfinished: created since the mark. */
export const freshSinceMarkSql = (accountId?: string) => freshUnfinishedSql(SINCE_MARK, undefined, accountId);

/** promote: the deliveries `fresh` selects get their created_at as next_attempt_at. */
const promoteStatement = (env: Env, fresh: SQL) =>
  sqlRun(env.DB, sql`UPDATE deliveries SET next_attempt_at = created_at WHERE id IN (SELECT id FROM (${fresh}))`);

/**
 * promote: every delivery created between the mark and FRESH_GRACE_MS ago (at most
 * FRESH_WINDOW_MAX_MS past the mark) that is unfinished and has no next_attempt_at gets its
 * created_at as one, and the mark moves to the window's end, in one transaction: so no
 * unfinished delivery older than the mark lacks a next_attempt_at. Run before
 * releaseExpiredLeasesStatement and dueStatement in the sweep's batch, which then see them:
 * a lost message is sent again, an expired lease taken back. Costs a row written only for a
 * delivery still unfinished after FRESH_GRACE_MS (a lost message, a backlog, a long lease).
 */
export function promoteFreshStatements(env: Env, now: number) {
  const to = now - FRESH_GRACE_MS;
  const end = sql`min(${to}, coalesce(${FRESH_MARK} + ${FRESH_WINDOW_MAX_MS}, ${to}))`;
  return [
    promoteStatement(env, freshUnfinishedSql(SINCE_MARK, end)),
    sqlRun(env.DB, sql`
      INSERT INTO sweep_marks (name, at) SELECT 'fresh', ${end} WHERE true
      ON CONFLICT (name) DO UPDATE SET at = max(at, excluded.at)`),
  ] as const;
}

/**
 * promote, for one account (a move, once its emits are held): each of its fresh unfinished
 * deliveries gets its created_at as next_attempt_at, so that what reads deliveries_due (the
 * drain, the copy, the switch) sees every delivery still to be sent.
 */
export const promoteFreshOfAccountStatement = (env: Env, accountId: string) => promoteStatement(env, freshSinceMarkSql(accountId));

/**
 * releaseLease: a row written as in_flight (before migration 0015, or a test send whose batch
 * failed) past its lease, pending again. A delivery a lease holds needs no release: it is
 * pending all along, and dueStatement takes it once the lease ends. Only deliveries still to
 * be sent or in flight have a next_attempt_at (once promoted, see promoteFreshStatements), so
 * this and dueStatement read the small partial index deliveries_due, never the whole log.
 */
export const releaseExpiredLeasesStatement = (env: Env, now: number) =>
  sqlAll<{ id: string }>(env.DB, sql`
    UPDATE deliveries SET status = 'pending', lease_until = NULL, next_attempt_at = ${now}, updated_at = ${now}
    WHERE next_attempt_at <= ${now} AND status = 'in_flight' AND lease_until < ${now}
    RETURNING id`);

/**
 * Pending, not in flight, and due since before `dueBefore`: their message is lost, or waits
 * longer than a queue delay allows, or their lease ran out.
 */
export const dueStatement = (env: Env, dueBefore: number, limit: number, now = dueBefore) =>
  sqlAll<{ id: string }>(env.DB, sql`
    SELECT id FROM deliveries
    WHERE next_attempt_at <= ${dueBefore} AND ${statusIsSql(TABLE, "pending", now)}
    ORDER BY next_attempt_at LIMIT ${limit}`);

/** The lease slots of isolates gone (or idle) for an hour: for the hourly purge. */
export const dropIdleSlotsStatement = (env: Env, now: number) =>
  sqlRun(env.DB, sql`DELETE FROM leases WHERE until < ${now - 60 * 60_000}`);

/** redeliver: a fresh series for a finished delivery whose subscription is active; its new state, or null if not both. */
export async function redeliver(env: Env, deliveryId: string, now: number) {
  const restarted = await sqlAll<{ id: string }>(env.DB, sql`
    UPDATE deliveries SET status = 'pending', series_base = attempts_count, next_attempt_at = ${now},
      lease_until = NULL, updated_at = ${now}
    WHERE id = ${deliveryId} AND status IN ('delivered', 'failed', 'skipped')
      AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = deliveries.subscription_id AND s.active = 1)
    RETURNING id`);
  return restarted.length > 0 ? { status: "pending" as const, nextAttemptAt: now } : null;
}

/** recover: a fresh series for up to `limit` failed or skipped deliveries of a subscription, created in [since, until). */
export async function recover(env: Env, subscriptionId: string, since: number, until: number, now: number, limit: number) {
  const restarted = await sqlAll<{ id: string }>(env.DB, sql`
    UPDATE deliveries SET status = 'pending', series_base = attempts_count, next_attempt_at = ${now},
      lease_until = NULL, updated_at = ${now}
    WHERE id IN (
      SELECT id FROM deliveries WHERE subscription_id = ${subscriptionId} AND status IN ('failed', 'skipped')
        AND created_at >= ${since} AND created_at < ${until}
      ORDER BY created_at LIMIT ${limit})
    RETURNING id`);
  return restarted.map((r) => r.id);
}

/** The end of the log, for the sweep's hourly purge: attempts, then finished deliveries, before `cutoff`. */
export function purgeStatements(env: Env, cutoff: number, limit: number) {
  return [
    sqlRun(env.DB, sql`DELETE FROM attempts WHERE id IN (
      SELECT id FROM attempts WHERE started_at < ${cutoff} LIMIT ${limit})`),
    sqlRun(env.DB, sql`DELETE FROM deliveries WHERE id IN (
      SELECT id FROM deliveries WHERE created_at < ${cutoff} AND next_attempt_at IS NULL
        AND status IN ('delivered', 'failed', 'skipped') LIMIT ${limit})`),
  ];
}

/**
 * erase: an account's deliveries and their attempts, `limit` of each (the account is being
 * deleted, its subscriptions already are). Reached through its deleted subscriptions (indexed),
 * children first, so an interrupted call never leaves rows the next one cannot find.
 */
export function eraseOfAccountStatements(env: Env, accountId: string, limit: number) {
  return [
    sqlRun(env.DB, sql`DELETE FROM attempts WHERE id IN (
      SELECT a.id FROM deleted_subscriptions s JOIN deliveries d ON d.subscription_id = s.id JOIN attempts a ON a.delivery_id = d.id
      WHERE s.account_id = ${accountId} LIMIT ${limit})`),
    sqlRun(env.DB, sql`DELETE FROM deliveries WHERE id IN (
      SELECT d.id FROM deleted_subscriptions s JOIN deliveries d ON d.subscription_id = s.id
      WHERE s.account_id = ${accountId} AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = d.id) LIMIT ${limit})`),
  ] as const;
}
