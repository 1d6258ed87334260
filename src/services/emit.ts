/**
 * Emitting: validate the whole call, store its events and fan out their deliveries
 * in one D1 batch, then enqueue the pending ones (ids only). One D1 round trip once this
 * isolate knows the call's event types (./emit-fast), two otherwise (read, then write),
 * whatever the size of the call; D1 is the record, the queue only the fast path.
 * What to answer and write is decided in ./emit-plan, without I/O; this is the I/O.
 */
import { inArray, sql } from "drizzle-orm";
import type { Config } from "../config";
import { database, isUniqueViolation, refusedByGuard, sqlAll, sqlRun } from "../db/client";
import { accounts, eventTypes, idempotencyKeys, subscriptions } from "../db/schema";
import { frozenProblem } from "../delivery/account-move";
import { createStatement } from "../delivery/lifecycle";
import { ProblemError } from "../core/problem";
import { forgetHome, homesOf, livesHereSql, livesOn, shardCount, shardEnv, type ShardEnv, shardOf } from "../db/shards";
import { type EmitPlan, type Found, type KeyPair, type PreparedCall, planEmit, prepareEmit, type Remembered } from "./emit-plan";
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
  /** Set on the one retry after an account was found to live elsewhere (moved). */
  rerouted?: boolean;
}

export interface EmitOutcome {
  body: EmitResultBody;
  replayed: boolean;
}

export async function emitEvents(env: Env, config: Config, inputs: EmitEventInput[], opts: EmitOptions): Promise<EmitOutcome> {
  const now = Date.now();
  const call = await prepareEmit(inputs, opts, now);
  // Where the call's accounts live (src/db/shards.ts); one that no shard knows is refused by the plan.
  if (shardCount(env) > 1) {
    const homes = await homesOf(env, call.accountIds);
    const shards = [...new Set(call.accountIds.map((id) => homes.get(id) ?? 0))];
    if (shards.length > 1) return emitAcrossShards(env, config, inputs, opts, call, homes, now);
    return emitOnShard(shardEnv(env, shards[0]), config, inputs, opts, call, now);
  }
  return emitOnShard(shardEnv(env, 0), config, inputs, opts, call, now);
}

/** A call whose accounts all live on `env`'s shard: one round trip once warm, else read then write. */
async function emitOnShard(
  env: ShardEnv,
  config: Config,
  inputs: EmitEventInput[],
  opts: EmitOptions,
  call: PreparedCall,
  now: number,
): Promise<EmitOutcome> {
  const fast = await emitInOneRoundTrip(env, call, now);
  // Written with whatever calls arrived with it (and enqueued once answered, ./emit-group).
  if (fast) return { body: fast.body, replayed: false };
  const found = await find(env, call, now);
  const notHere = await notLiveHere(env, call, [found]);
  if (notHere === "moved" && !opts.rerouted) return emitEvents(env, config, inputs, { ...opts, rerouted: true });
  if (notHere !== null) throw frozenProblem();
  const plan = planEmit(call, found, now);
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

/**
 * A call naming accounts on several shards: read every shard, plan the whole call (so a refusal
 * names its event and nothing is written), then one write per shard, at once. Each shard's
 * write is atomic, the call as a whole is not: should one fail, the others stand and the call
 * answers the error. The Idempotency-Key is kept on every shard the call wrote, with the whole
 * answer; a retry with it replays that answer and writes only what the failed shards miss,
 * with the first call's event ids.
 */
async function emitAcrossShards(
  base: Env,
  config: Config,
  inputs: EmitEventInput[],
  opts: EmitOptions,
  call: PreparedCall,
  homes: Map<string, number>,
  now: number,
): Promise<EmitOutcome> {
  const homeOfAccount = (id: string) => homes.get(id) ?? 0;
  const slices = new Map<number, string[]>();
  for (const id of call.accountIds) slices.set(homeOfAccount(id), [...(slices.get(homeOfAccount(id)) ?? []), id]);
  const sliceCall = (accountIds: string[]): PreparedCall => {
    const headerKey: KeyPair | null = call.headerKey ? [accountIds[0], call.headerKey[1]] : null;
    const ofSlice = call.eventKeys.filter((k): k is KeyPair => k !== null && accountIds.includes(k[0]));
    return { ...call, accountIds, headerKey, keyPairs: [...(headerKey ? [headerKey] : []), ...ofSlice] };
  };
  const parts = [...slices].map(([shard, accountIds]) => ({ env: shardEnv(base, shard), call: sliceCall(accountIds) }));
  const founds = await Promise.all(parts.map((p) => find(p.env, p.call, now)));
  const notHere = await notLiveHere(base, call, founds, parts);
  if (notHere === "moved" && !opts.rerouted) return emitEvents(base, config, inputs, { ...opts, rerouted: true });
  if (notHere !== null) throw frozenProblem();

  // The header key, as each shard remembers it.
  const scope = (k: KeyPair) => `${k[0]}\u0000${k[1]}`;
  const headers = parts.map((p, i) => (p.call.headerKey ? founds[i].remembered.find((r) => r.scope === scope(p.call.headerKey!)) : undefined));
  if (headers.some((h) => h && h.request_hash !== call.requestHash)) {
    throw new ProblemError("conflict", "this Idempotency-Key was used with a different body in the last 24 h");
  }
  const first = headers.find((h) => h !== undefined);
  if (first && headers.every((h) => h !== undefined)) return { body: JSON.parse(first.response), replayed: true };
  const firstBody: EmitResultBody | null = first ? JSON.parse(first.response) : null;
  // Completing an earlier call: its events keep the ids it answered.
  const events = firstBody ? call.events.map((p, i) => ({ ...p, id: firstBody.data[i]?.id ?? p.id })) : call.events;

  const merged: Found = {
    accounts: founds.flatMap((f) => f.accounts),
    types: [...new Map(founds.flatMap((f) => f.types).map((t) => [t.name, t])).values()],
    subscriptions: founds.flatMap((f) => f.subscriptions),
    remembered: founds.flatMap((f) => f.remembered).filter((r) => !headers.includes(r)),
  };
  const plan = planEmit({ ...call, events, headerKey: null }, merged, now);
  if (plan.kind === "replay") return { body: plan.body, replayed: true };
  if (plan.kind === "refused") throw plan.problem;
  const body = firstBody ?? plan.body;

  const results = await Promise.allSettled(
    parts.map(async (p, i) => {
      if (headers[i]) return; // written by the earlier call
      const mine = new Set(p.call.accountIds);
      const ids = new Set(plan.events.filter((e) => mine.has(e.accountId)).map((e) => e.id));
      const deliveries = plan.deliveries.filter((d) => mine.has(d.accountId));
      const remember = plan.remember.filter((r) => mine.has(r.accountId));
      if (p.call.headerKey) {
        const [accountId, key] = p.call.headerKey;
        remember.push({ accountId, key, requestHash: call.requestHash, response: JSON.stringify(body) });
      }
      const slice = {
        ...plan,
        events: plan.events.filter((e) => ids.has(e.id)),
        deliveries,
        remember,
        pendingIds: deliveries.filter((d) => d.status === "pending").map((d) => d.id),
      };
      await write(p.env, p.call, slice, now);
      await enqueueDeliveries(p.env, slice.pendingIds);
    }),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    if (isUniqueViolation(failed.reason, "idempotency_keys") && !opts.raced) {
      return emitEvents(base, config, inputs, { ...opts, raced: true });
    }
    throw failed.reason;
  }
  return { body, replayed: firstBody !== null };
}

/**
 * Whether every account the reads found lives on the shard it was read on, not frozen by a move
 * (src/delivery/account-move.ts); rows that do not are dropped from `founds`. An account found
 * frozen, or not found where the isolate's map said: the map forgets the call's accounts, and the
 * answer is "moved" when the control database now says another shard for one, "frozen" while a
 * move holds one, else null (an account no shard knows is then the plan's to refuse).
 */
async function notLiveHere(
  env: Env,
  call: PreparedCall,
  founds: Found[],
  /** Where each read went, and for which accounts (in the order of `founds`). */
  reads: { env: Env; call: Pick<PreparedCall, "accountIds"> }[] = [{ env, call }],
): Promise<"moved" | "frozen" | null> {
  let held = false;
  founds.forEach((found, i) => {
    const live = (found.accounts as FoundAccount[]).filter((a) => livesOn(a, shardOf(reads[i].env)));
    if (live.length !== found.accounts.length) held = true;
    found.accounts = live;
  });
  if (shardCount(env) === 1) return held ? "frozen" : null;
  const known = new Set(founds.flatMap((f) => f.accounts.map((a) => a.id)));
  if (!held && call.accountIds.every((id) => known.has(id))) return null;
  const askedOn = new Map(reads.flatMap((r) => r.call.accountIds.map((id) => [id, shardOf(r.env)] as const)));
  for (const id of call.accountIds) forgetHome(id);
  const homes = await homesOf(env, call.accountIds);
  if (call.accountIds.some((id) => homes.has(id) && homes.get(id) !== askedOn.get(id))) return "moved";
  return held ? "frozen" : null;
}

type FoundAccount = { id: string; shard: number; movingTo: number | null };

/** The first round trip: the call's accounts, event types, their subscriptions and its live idempotency keys. */
async function find(env: Env, call: PreparedCall, now: number) {
  const db = database(env.DB);
  const [foundAccounts, foundTypes, candidates, ...maybeRemembered] = await db.batch([
    db
      .select({ id: accounts.id, name: accounts.name, email: accounts.email, shard: accounts.shard, movingTo: accounts.movingTo })
      .from(accounts)
      .where(inArray(accounts.id, call.accountIds)),
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
  try {
    await database(env.DB).batch([
      // Its accounts still live here: a move that froze one since the read aborts the batch (src/delivery/account-move.ts).
      sqlAll(env.DB, sql`
        SELECT CASE WHEN (SELECT count(*) FROM accounts WHERE id IN (SELECT value FROM json_each(${JSON.stringify(call.accountIds)}))
            AND ${livesHereSql(env)}) != ${call.accountIds.length}
          THEN json('an account is not live here') END`),
      insertEventsStatement(env, eventRows, now),
      createStatement(env, plan.deliveries, now),
      ...rememberStatements,
    ]);
  } catch (err) {
    if (refusedByGuard(err)) throw frozenProblem();
    throw err;
  }
}
