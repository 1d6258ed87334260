/** Redelivery, recovery and the test event: operator tools over the same engine. */
import { asc, eq, sql } from "drizzle-orm";
import type { Config } from "../config";
import { isFinished } from "../core/delivery-state";
import { newId } from "../core/ids";
import { patternMatches } from "../core/matching";
import { ProblemError } from "../core/problem";
import { database, sqlRun } from "../db/client";
import { eventKeyOf } from "../db/event-keys";
import { accounts, type DeliveryRow, eventTypes, type SubscriptionRow } from "../db/schema";
import * as lifecycle from "../delivery/lifecycle";
import { sendAttempt } from "../delivery/send";
import { enqueueDeliveries } from "./enqueue";

export const RECOVER_LIMIT = 1000;

/** A fresh series of attempts (same delivery id, so the same webhook-id), queued at once; answers the delivery as restarted. */
export async function redeliver(env: Env, delivery: DeliveryRow): Promise<DeliveryRow> {
  const restarted = await lifecycle.redeliver(env, delivery.id, Date.now());
  if (!restarted) {
    const why = !isFinished(delivery.status)
      ? "this delivery is still in progress"
      : "its subscription is switched off or deleted: re-activate it first";
    throw new ProblemError("conflict", why);
  }
  await enqueueDeliveries(env, [delivery.id]);
  return { ...delivery, ...restarted };
}

/** Redeliver every failed or skipped delivery of a subscription created since `since` (as Svix's recover). */
export async function recover(env: Env, sub: SubscriptionRow, since: number, until: number): Promise<number> {
  if (!sub.active) throw new ProblemError("conflict", "the subscription is switched off: re-activate it first");
  const restarted = await lifecycle.recover(env, sub.id, since, until, Date.now(), RECOVER_LIMIT);
  await enqueueDeliveries(env, restarted);
  return restarted.length;
}

/** The event a test sends: the catalog example of the first subscribed type, or webhook.test. */
async function testEventType(env: Env, sub: SubscriptionRow) {
  const catalog = await database(env.DB)
    .select({ name: eventTypes.name, example: eventTypes.example })
    .from(eventTypes)
    .where(eq(eventTypes.deprecated, false))
    .orderBy(asc(eventTypes.name));
  const first = sub.eventTypes[0];
  const pick = catalog.find((t) => t.example !== null && patternMatches(first, t.name));
  return pick ?? catalog.find((t) => t.name === "webhook.test") ?? { name: "webhook.test", example: null };
}

/** Sends a synthetic event now, records it in the log, and leaves the failure counter alone. */
export async function sendTestEvent(env: Env, config: Config, sub: SubscriptionRow) {
  const db = database(env.DB);
  const [type, [owner]] = await Promise.all([
    testEventType(env, sub),
    db.select({ name: accounts.name, email: accounts.email }).from(accounts).where(eq(accounts.id, sub.accountId)),
  ]);
  const now = Date.now();
  const event = {
    id: newId("event"),
    type: type.name,
    subject: sub.subjects?.[0] ?? null,
    data: type.example ?? "{}",
    timestamp: now,
    owner: owner?.email ?? owner?.name ?? "",
  };
  const deliveryId = newId("delivery");
  const attempt = await sendAttempt(env, config, sub, event, deliveryId, 1);
  const success = attempt.outcome === "success";
  await db.batch([
    sqlRun(env.DB, sql`INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at)
      VALUES (${eventKeyOf(event.id)}, ${sub.accountId}, ${event.type}, ${event.subject}, ${event.data}, ${now}, ${now})`),
    lifecycle.createTestSendStatement(
      env,
      { id: deliveryId, eventId: event.id, subscriptionId: sub.id },
      now,
    ),
    ...lifecycle.settleStatements(env, [{ attempt, verdict: success ? { kind: "delivered" } : { kind: "failed" } }], Date.now()),
  ]);
  return {
    success,
    status_code: attempt.statusCode,
    duration_ms: attempt.durationMs,
    response_body: attempt.responseBody,
    error: attempt.error,
    event_id: event.id,
    delivery_id: deliveryId,
  };
}


