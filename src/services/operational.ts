/**
 * Operational events: what happens to the accounts' subscriptions, told to the operator's
 * operational webhooks (subscriptions of the system account, delivered by the same engine).
 *
 * The events ride in the D1 batch the caller sends anyway: a fan-out to the system account's
 * matching subscriptions (lifecycle's), then the events, each written only if it got a
 * delivery. With no operational webhook subscribed, nothing is written and no round trip
 * is added. The payload's `account` and `subscription` are read from D1 in the statement
 * that writes the event, so callers that only know a subscription id need no read of their own.
 */
import { sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { newId } from "../core/ids";
import {
  type AttemptSummary,
  isOperationalWebhookId,
  type OperationalEventType,
  serializeAttemptSummary,
  SYSTEM_ACCOUNT_ID,
} from "../core/operational";
import { database, sqlRun } from "../db/client";
import { eventKeySql } from "../db/event-keys";
import type { SubscriptionRow } from "../db/schema";
import { type ClaimedDelivery, fanOutStatement, type Recorded } from "../delivery/lifecycle";
import type { AttemptRecord } from "../delivery/send";
import { enqueueDeliveries } from "./enqueue";
import { LISTEN_SCHEME } from "./listen";

export interface OperationalEvent {
  type: OperationalEventType;
  /** The subscription it is about (the event's subject). */
  subscriptionId: string;
  /** What happened, with its figures: the payload's members after `account` and `subscription`. */
  details: Record<string, unknown>;
}

export interface OperationalBatch {
  statements: BatchItem<"sqlite">[];
  /** The deliveries to enqueue, read from the results of `statements` (in their order). */
  pending(results: readonly unknown[]): string[];
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/**
 * Statements for the caller's batch, placed where the subscription row reads as the event
 * should show it (after an insert or update, before a delete). Operational webhooks are
 * never the subject of an event: no loops.
 */
export function operationalStatements(env: Env, events: OperationalEvent[], now: number): OperationalBatch {
  const told = events.filter((e) => !isOperationalWebhookId(e.subscriptionId));
  if (told.length === 0) return { statements: [], pending: () => [] };
  const rows = told.map((e) => [
    newId("event"),
    e.type,
    e.subscriptionId,
    { account: null, subscription: { id: e.subscriptionId }, ...e.details },
  ]);
  const fanOut = fanOutStatement(
    env,
    rows.map(([id, type, subject]) => [id, SYSTEM_ACCOUNT_ID, type, subject]),
    now,
  );
  // An event is written only if it has a delivery (found through the operational webhooks, at
  // `now`: deliveries have no index on event_id), so every delivery has its event. Should the
  // subscription be gone already (deleted meanwhile), `account` stays null and `subscription` its id.
  const insert = sqlRun(env.DB, sql`
    INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at)
    SELECT ${eventKeySql(sql`e.value ->> 0`)}, ${SYSTEM_ACCOUNT_ID}, e.value ->> 1, e.value ->> 2,
      coalesce((
        SELECT json_set(e.value ->> 3,
          '$.account', json_object('id', a.id, 'name', a.name),
          '$.subscription', json_object('id', s.id, 'url', s.url, 'description', s.description, 'format', s.format,
            'event_types', json(s.event_types), 'active', json(CASE WHEN s.active THEN 'true' ELSE 'false' END),
            'consecutive_failures', s.consecutive_failures, 'disabled_reason', s.disabled_reason))
        FROM subscriptions s JOIN accounts a ON a.id = s.account_id
        WHERE s.id = e.value ->> 2), e.value ->> 3),
      ${now}, ${now}
    FROM json_each(${JSON.stringify(rows)}) AS e
    WHERE EXISTS (
      SELECT 1 FROM subscriptions h JOIN deliveries d ON d.subscription_id = h.id AND d.created_at = ${now}
      WHERE h.account_id = ${SYSTEM_ACCOUNT_ID} AND d.event_id = ${eventKeySql(sql`e.value ->> 0`)})`);
  return {
    statements: [fanOut, insert],
    pending: (results) =>
      ((results[0] ?? []) as { id: string; status: string }[]).filter((d) => d.status === "pending").map((d) => d.id),
  };
}

/**
 * Runs `before`, the events' statements and `after` in one D1 batch (one transaction), then
 * enqueues the events' deliveries. Answers the results of `before`.
 */
export async function batchWithEvents(
  env: Env,
  before: BatchItem<"sqlite">[],
  events: OperationalEvent[],
  now: number,
  after: BatchItem<"sqlite">[] = [],
): Promise<unknown[]> {
  const op = operationalStatements(env, events, now);
  const all = [...before, ...op.statements, ...after];
  if (all.length === 0) return [];
  const results = (await database(env.DB).batch(all as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]])) as unknown[];
  const pending = op.pending(results.slice(before.length));
  if (pending.length) await enqueueDeliveries(env, pending);
  return results.slice(0, before.length);
}

/** Events in a batch of their own (the consumer's `delivery.failed`); never throws: the delivery's record stands. */
export async function emitOperational(env: Env, events: OperationalEvent[]): Promise<void> {
  try {
    await batchWithEvents(env, [], events, Date.now());
  } catch (err) {
    console.error("operational events not recorded:", err instanceof Error ? err.message : err);
  }
}

// What each event type says, beyond `account` and `subscription`.

export const subscriptionCreated = (row: SubscriptionRow): OperationalEvent => ({
  type: "subscription.created",
  subscriptionId: row.id,
  details: { created_at: iso(row.createdAt) },
});

export const subscriptionUpdated = (row: SubscriptionRow, changes: string[]): OperationalEvent => ({
  type: "subscription.updated",
  subscriptionId: row.id,
  details: { changes, updated_at: iso(row.updatedAt) },
});

export const subscriptionDeleted = (row: SubscriptionRow, reason: string, now: number): OperationalEvent => ({
  type: "subscription.deleted",
  subscriptionId: row.id,
  details: { reason, deleted_at: iso(now) },
});

/** Switched back on: what had switched it off, and since when. */
export const subscriptionEnabled = (before: SubscriptionRow, now: number): OperationalEvent => ({
  type: "subscription.enabled",
  subscriptionId: before.id,
  details: {
    enabled_at: iso(now),
    previously: {
      disabled_reason: before.disabledReason,
      disabled_at: iso(before.disabledAt),
      consecutive_failures: before.consecutiveFailures,
    },
  },
});

export interface Disabling {
  /** `automatic`: Hookline switched it off (failures, or what the receiver said); `manual`: a face did. */
  trigger: "automatic" | "manual";
  reason: string;
  consecutiveFailures: number;
  /** When the run of failures began, if there was one. */
  failingSince: number | null;
  last?: AttemptSummary;
}

export const subscriptionDisabled = (subscriptionId: string, d: Disabling, now: number): OperationalEvent => ({
  type: "subscription.disabled",
  subscriptionId,
  details: {
    trigger: d.trigger,
    reason: d.reason,
    disabled_at: iso(now),
    consecutive_failures: d.consecutiveFailures,
    failing_since: iso(d.failingSince),
    last_attempt: serializeAttemptSummary(d.last),
  },
});

export const subscriptionFailing = (
  subscriptionId: string,
  f: { consecutiveFailures: number; deactivateAfter: number; failingSince: number | null; last?: AttemptSummary },
): OperationalEvent => ({
  type: "subscription.failing",
  subscriptionId,
  details: {
    consecutive_failures: f.consecutiveFailures,
    deactivate_after: f.deactivateAfter,
    failing_since: iso(f.failingSince),
    last_attempt: serializeAttemptSummary(f.last),
  },
});

/** What the consumer knows of a delivery whose last attempt failed. */
export interface ExhaustedDelivery {
  subscriptionId: string;
  deliveryId: string;
  attempts: number;
  event: { id: string; type: string; subject: string | null; timestamp: number };
  last: AttemptSummary;
}

export const deliveryFailed = (d: ExhaustedDelivery): OperationalEvent => ({
  type: "delivery.failed",
  subscriptionId: d.subscriptionId,
  details: {
    delivery: { id: d.deliveryId, attempts: d.attempts },
    event: { id: d.event.id, type: d.event.type, subject: d.event.subject, timestamp: iso(d.event.timestamp) },
    last_attempt: serializeAttemptSummary(d.last),
  },
});

/** An attempt as operational events describe it (no headers, no body). */
export const summarizeAttempt = (
  target: { url: string },
  a: Pick<AttemptRecord, "outcome" | "statusCode" | "error" | "startedAt">,
): AttemptSummary => ({
  outcome: a.outcome,
  statusCode: a.statusCode,
  error: a.error,
  startedAt: a.startedAt,
  listen: target.url.startsWith(LISTEN_SCHEME),
});

/**
 * The consumer's hook once outcomes are recorded: `delivery.failed` for each delivery whose
 * last attempt failed. Anything else (a success, a retry to come) costs nothing.
 */
export async function reportExhausted(env: Env, outcomes: { delivery: ClaimedDelivery; result: Recorded }[]): Promise<void> {
  const exhausted = outcomes.filter(
    (o) =>
      o.result.verdict.kind === "failed" &&
      !isOperationalWebhookId(o.delivery.target.id) &&
      !o.delivery.target.url.startsWith(LISTEN_SCHEME),
  );
  if (exhausted.length === 0) return;
  await emitOperational(
    env,
    exhausted.map(({ delivery, result }) =>
      deliveryFailed({
        subscriptionId: delivery.target.id,
        deliveryId: delivery.id,
        attempts: result.attempt.number,
        event: delivery.event,
        last: summarizeAttempt(delivery.target, result.attempt),
      }),
    ),
  );
}
