/**
 * Emitting: validate the whole call, store its events and fan out their deliveries
 * in one D1 batch, then enqueue the pending ones (ids only). One D1 round trip once this
 * isolate knows the call's event types (./emit-fast), two otherwise (read, then write),
 * whatever the size of the call; D1 is the record, the queue only the fast path.
 * What to answer and write is decided in ./emit-plan, without I/O; this is the I/O.
 */
import { inArray, sql } from "drizzle-orm";
import type { Config } from "../config";
import { database, isUniqueViolation, sqlAll, sqlRun } from "../db/client";
import { accounts, eventTypes, idempotencyKeys, subscriptions } from "../db/schema";
import { createStatement } from "../delivery/lifecycle";
import { type EmitPlan, type PreparedCall, planEmit, prepareEmit, type Remembered } from "./emit-plan";
import type { EmitEventInput, EmitResultBody } from "./emit-schema";
import { emitInOneRoundTrip, insertEventsStatement, rememberCatalog } from "./emit-fast";
import { enqueueDeliveries } from "./enqueue";

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface EmitOptions {
  /** The Idempotency-Key header: covers the whole call. */
  idempotencyKey?: string;
  /** Name fields as `events[i].x` (a batch) or `x` (a single event). */
  batch: boolean;
  /** Set on the one retry after losing an idempotency race. */
  raced?: boolean;
}

export interface EmitOutcome {
  body: EmitResultBody;
  replayed: boolean;
}

export async function emitEvents(env: Env, config: Config, inputs: EmitEventInput[], opts: EmitOptions): Promise<EmitOutcome> {
  const now = Date.now();
  const call = await prepareEmit(inputs, opts, now);
  const fast = await emitInOneRoundTrip(env, call, now);
  // Written and enqueued, with whatever calls arrived with it.
  if (fast) return { body: fast.body, replayed: false };
  const plan = planEmit(call, await find(env, call, now), now);
  if (plan.kind === "replay") return { body: plan.body, replayed: true };
  if (plan.kind === "refused") throw plan.problem;
  try {
    await write(env, call, plan, now);
  } catch (err) {
    // Another call with the same key won the race: answer as its replay.
    if (isUniqueViolation(err, "idempotency_keys") && !opts.raced) return emitEvents(env, config, inputs, { ...opts, raced: true });
    throw err;
  }
  await enqueueDeliveries(env, plan.pendingIds);
  return { body: plan.body, replayed: false };
}

/** The first round trip: the call's accounts, event types, their subscriptions and its live idempotency keys. */
async function find(env: Env, call: PreparedCall, now: number) {
  const db = database(env.DB);
  const [foundAccounts, foundTypes, candidates, ...maybeRemembered] = await db.batch([
    db.select({ id: accounts.id, name: accounts.name, email: accounts.email }).from(accounts).where(inArray(accounts.id, call.accountIds)),
    db
      .select({ name: eventTypes.name, schema: eventTypes.schema, updatedAt: eventTypes.updatedAt })
      .from(eventTypes)
      .where(inArray(eventTypes.name, call.typeNames)),
    db
      .select({
        id: subscriptions.id,
        accountId: subscriptions.accountId,
        eventTypes: subscriptions.eventTypes,
        subjects: subscriptions.subjects,
        active: subscriptions.active,
      })
      .from(subscriptions)
      .where(inArray(subscriptions.accountId, call.accountIds)),
    ...(call.keyed
      ? [
          // Primary-key lookups, one per key.
          sqlAll<Remembered>(env.DB, sql`
            SELECT k.account_id || char(0) || k.key AS scope, k.request_hash, k.response
            FROM json_each(${JSON.stringify(call.keyPairs)}) AS j
              JOIN idempotency_keys k ON k.account_id = j.value ->> 0 AND k.key = j.value ->> 1
            WHERE k.created_at > ${now - IDEMPOTENCY_TTL_MS}`),
        ]
      : []),
  ]);
  const remembered = (maybeRemembered[0] ?? []) as Remembered[];
  rememberCatalog(foundTypes);
  return { accounts: foundAccounts, types: foundTypes, subscriptions: candidates, remembered };
}

/**
 * The second round trip, all or nothing: the rows go to D1 as one JSON parameter per table,
 * so 100 events x 20 subscriptions stay within D1's 100 bound parameters.
 */
async function write(env: Env, call: PreparedCall, plan: Extract<EmitPlan, { kind: "write" }>, now: number) {
  const keyPairs = JSON.stringify(call.keyPairs);
  const eventRows = plan.events.map((e) => [e.id, e.accountId, e.type, e.subject, e.data, e.timestamp]);
  const rememberRows = plan.remember.map((r) => [r.accountId, r.key, r.requestHash, r.response]);
  const rememberStatements = call.keyed
    ? [
        // Expired keys make room; a live one makes the INSERT below fail and the whole batch roll back.
        sqlRun(env.DB, sql`
          DELETE FROM idempotency_keys WHERE created_at <= ${now - IDEMPOTENCY_TTL_MS}
            AND (account_id, key) IN (SELECT value ->> 0, value ->> 1 FROM json_each(${keyPairs}))`),
        sqlRun(env.DB, sql`
          INSERT INTO ${idempotencyKeys} (account_id, key, request_hash, response, created_at)
          SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ${now}
          FROM json_each(${JSON.stringify(rememberRows)})`),
      ]
    : [];
  await database(env.DB).batch([
    insertEventsStatement(env, eventRows, now),
    createStatement(env, plan.deliveries, now),
    ...rememberStatements,
  ]);
}
