/**
 * What the dashboard reads. Every change goes through src/services (the same
 * operations the API calls); only these reads are the dashboard's own.
 */
import { and, asc, eq, getTableColumns, inArray, isNull, type SQL, sql } from "drizzle-orm";
import type { DeliveryStatus } from "../core/delivery-state";
import { database } from "../db/client";
import { attemptsOf, decodeAttempt } from "../delivery/attempt-log";
import { deliveryColumns, deliveryOfAccount, deliveryStatusIs, statusSql } from "../delivery/lifecycle";
import { afterCursor, newestFirst, toPage } from "../db/pagination";
import {
  type AttemptRow,
  attempts,
  type DeliveryRow,
  deliveries,
  eventTypes,
  events,
  type SubscriptionRow,
  subscriptions,
} from "../db/schema";

export const DELIVERIES_PAGE = 20;

export type ListedSubscription = SubscriptionRow & { lastStatus: DeliveryStatus | null; lastAt: number | null };

/** The account's subscriptions (not `webhook listen` ones), newest first, each with its last delivery. */
export async function listSubscriptions(env: Env, accountId: string): Promise<ListedSubscription[]> {
  const last = (column: SQL) =>
    sql`(SELECT ${column} FROM deliveries d WHERE d.subscription_id = "subscriptions"."id" ORDER BY d.created_at DESC, d.id DESC LIMIT 1)`;
  const rows = await database(env.DB)
    .select({
      ...getTableColumns(subscriptions),
      lastStatus: sql<DeliveryStatus | null>`${last(statusSql(sql.raw("d"), Date.now()))}`,
      lastAt: sql<number | null>`${last(sql.raw("d.created_at"))}`,
    })
    .from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), isNull(subscriptions.listenSessionId)))
    .orderBy(...newestFirst(subscriptions.createdAt, subscriptions.id))
    .limit(100);
  return rows;
}

export interface CatalogEntry {
  name: string;
  description: string;
  deprecated: boolean;
}

export async function catalog(env: Env): Promise<CatalogEntry[]> {
  return database(env.DB)
    .select({ name: eventTypes.name, description: eventTypes.description, deprecated: eventTypes.deprecated })
    .from(eventTypes)
    .orderBy(asc(eventTypes.name));
}

export type LoggedDelivery = DeliveryRow & { eventType: string | null; attempts: AttemptRow[] };

/** A page of a subscription's deliveries, newest first, each with its event type and attempts. */
export async function deliveryPage(env: Env, subscriptionId: string, status: DeliveryStatus | undefined, cursor?: string) {
  const db = database(env.DB);
  const rows = await db
    .select({ ...deliveryColumns(), eventType: events.type })
    .from(deliveries)
    .leftJoin(events, eq(events.id, deliveries.eventId))
    .where(
      and(
        eq(deliveries.subscriptionId, subscriptionId),
        status ? deliveryStatusIs(status) : undefined,
        afterCursor(deliveries.createdAt, deliveries.id, cursor),
      ),
    )
    .orderBy(...newestFirst(deliveries.createdAt, deliveries.id))
    .limit(DELIVERIES_PAGE + 1);
  const page = toPage(rows, DELIVERIES_PAGE);
  const ids = page.rows.map((d) => d.id);
  const tries = ids.length
    ? await db.select().from(attempts).where(inArray(attempts.deliveryId, ids)).orderBy(asc(attempts.deliveryId), asc(attempts.number))
    : [];
  const byDelivery = new Map<string, AttemptRow[]>();
  for (const a of tries) byDelivery.set(a.deliveryId, [...(byDelivery.get(a.deliveryId) ?? []), a]);
  const items: LoggedDelivery[] = page.rows.map((d) => ({ ...d, attempts: attemptsOf(d, byDelivery.get(d.id) ?? []) }));
  return { items, nextCursor: page.nextCursor };
}

/** A delivery of the account's (another account's is as missing as a missing one). */
export async function ownedDelivery(env: Env, accountId: string, id: string): Promise<DeliveryRow | null> {
  const [row] = await database(env.DB)
    .select(deliveryColumns())
    .from(deliveries)
    .where(and(eq(deliveries.id, id), deliveryOfAccount(accountId)))
    .limit(1);
  return row ?? null;
}

/** The last attempt of one of the subscription's deliveries (the outcome of a test event). */
export async function lastAttempt(env: Env, accountId: string, subscriptionId: string, deliveryId: string) {
  const [row] = await database(env.DB)
    .select({
      id: deliveries.id,
      createdAt: deliveries.createdAt,
      attemptsCount: deliveries.attemptsCount,
      lastAttempt: deliveries.lastAttempt,
      eventType: events.type,
    })
    .from(deliveries)
    .leftJoin(events, eq(events.id, deliveries.eventId))
    .where(
      and(eq(deliveries.id, deliveryId), deliveryOfAccount(accountId), eq(deliveries.subscriptionId, subscriptionId)),
    )
    .limit(1);
  return row?.lastAttempt ? { attempt: decodeAttempt(row, row.lastAttempt), eventType: row.eventType } : null;
}
