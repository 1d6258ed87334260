/**
 * Data shards: where an account's data lives.
 *
 * The control database (binding `DB`) holds what is small and global: accounts, API keys, the
 * event-type catalog, dashboard sessions, portal links, and each account's `shard`. Each of the
 * SHARDS data shards is a D1 database and a queue holding everything about its accounts:
 * subscriptions, listen sessions, events, deliveries, attempts, idempotency keys, stats.
 * Shard 0 is `DB` itself with `DELIVERY_QUEUE` (so SHARDS=1 is one database, as it always was);
 * shard i >= 1 is `DB_<i>` with `DELIVERY_QUEUE_<i>` (queue `hookline-deliveries-<i>`).
 *
 * Every database carries the same schema. A shard also keeps a copy of the rows its data
 * statements join: its accounts' rows in `accounts` (written with the control row, in the
 * same order, by services/accounts) and the whole `event_types` catalog (written to every
 * shard by api/event-types). So the delivery code runs unchanged on a shard's view of the
 * bindings, `shardEnv(env, i)`, whose `DB` and `DELIVERY_QUEUE` are that shard's; control
 * code reads `control(env)`, which is the control database in every view.
 */
import { sql } from "drizzle-orm";
import { sqlAll } from "./client";

/** An Env whose DB and DELIVERY_QUEUE are one shard's. */
export type ShardEnv = Env & { readonly SHARD: number };

const BASE = Symbol("base env");
type View = ShardEnv & { [BASE]: Env };

const views = new WeakMap<Env, ShardEnv[]>();
const counts = new WeakMap<Env, number>();

const baseOf = (env: Env): Env => (env as Partial<View>)[BASE] ?? env;

/** The control database, whichever view `env` is. */
export const control = (env: Env): D1Database => baseOf(env).DB;

/** SHARDS, checked against the bindings once per env: a missing DB_<i> or queue is a configuration error. */
export function shardCount(env: Env): number {
  const base = baseOf(env);
  const known = counts.get(base);
  if (known !== undefined) return known;
  const raw = base.SHARDS ?? "1";
  const n = raw === "" ? 1 : Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`SHARDS must be an integer from 1 to 1000, got "${raw}"`);
  const bindings = base as unknown as Record<string, unknown>;
  for (let i = 1; i < n; i++) {
    if (!bindings[`DB_${i}`]) throw new Error(`SHARDS is ${n} but there is no D1 binding DB_${i}`);
    if (!bindings[`DELIVERY_QUEUE_${i}`]) throw new Error(`SHARDS is ${n} but there is no queue binding DELIVERY_QUEUE_${i}`);
  }
  counts.set(base, n);
  return n;
}

/** Shard `i`'s view of the bindings (cached: the same object for the same env and shard). */
export function shardEnv(env: Env, i: number): ShardEnv {
  const base = baseOf(env);
  const n = shardCount(base);
  if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`no shard ${i}: SHARDS is ${n}`);
  let list = views.get(base);
  if (!list) views.set(base, (list = []));
  let view = list[i];
  if (!view) {
    const bindings = base as unknown as Record<string, unknown>;
    view = {
      ...base,
      DB: i === 0 ? base.DB : (bindings[`DB_${i}`] as D1Database),
      DELIVERY_QUEUE: i === 0 ? base.DELIVERY_QUEUE : (bindings[`DELIVERY_QUEUE_${i}`] as Env["DELIVERY_QUEUE"]),
      SHARD: i,
      [BASE]: base,
    } as View;
    list[i] = view;
  }
  return view;
}

/** Every shard's view, shard 0 first. */
export const allShards = (env: Env): ShardEnv[] => Array.from({ length: shardCount(env) }, (_, i) => shardEnv(env, i));

/** The shard whose queue a consumer batch came from: `hookline-deliveries` is shard 0, `…-<i>` shard i. */
export function shardOfQueue(env: Env, queueName: string): ShardEnv {
  const m = /-(\d+)$/.exec(queueName);
  const i = m ? Number(m[1]) : 0;
  return shardEnv(env, i < shardCount(env) ? i : 0);
}

/**
 * Where each account lives, from a per-isolate map filled from the control database. It may
 * name the shard an account has since been moved from, but is never used stale: every emit's
 * write batch checks on the shard itself that the account lives there and is not frozen
 * (services/emit-fast, services/emit), and on a miss the emit forgets the entry and reads the
 * control database again. An account created after a miss is read then.
 */
const homes = new Map<string, number>();
const HOMES_LIMIT = 100_000;

/** Each known account's shard; unknown accounts are absent. */
export async function homesOf(env: Env, accountIds: string[]): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  const missing: string[] = [];
  for (const id of accountIds) {
    const home = homes.get(id);
    if (home === undefined) missing.push(id);
    else found.set(id, home);
  }
  if (missing.length) {
    const rows = await sqlAll<{ id: string; shard: number }>(control(env), sql`
      SELECT id, shard FROM accounts WHERE id IN (SELECT value FROM json_each(${JSON.stringify(missing)}))`);
    if (homes.size + rows.length > HOMES_LIMIT) homes.clear();
    for (const r of rows) {
      homes.set(r.id, r.shard);
      found.set(r.id, r.shard);
    }
  }
  return found;
}

/** The shard view of one account (shard 0 for an account the control database does not know). */
export async function homeOf(env: Env, accountId: string, { fresh = false } = {}): Promise<ShardEnv> {
  if (shardCount(env) === 1) return shardEnv(env, 0);
  // A read has no write batch to check the map's entry in: `fresh` asks the control database.
  if (fresh) forgetHome(accountId);
  return shardEnv(env, (await homesOf(env, [accountId])).get(accountId) ?? 0);
}

/** A deleted account leaves the map (its id is never reused). */
export const forgetHome = (accountId: string): void => void homes.delete(accountId);

/**
 * For the operator's lookups by id alone: `find` on each shard (all at once), the first shard's
 * answer that is not null, with that shard's view; null when none has it. Found on several (an
 * account being moved), the answer of the shard `accountOf` the value lives on.
 */
export async function findOnShards<T>(
  env: Env,
  find: (shard: ShardEnv) => Promise<T | null | undefined>,
  accountOf?: (value: T) => string | null,
) {
  const shards = allShards(env);
  const found = await Promise.all(shards.map((s) => find(s)));
  const hits = found.flatMap((value, i) => (value === null || value === undefined ? [] : [{ value: value as T, shard: shards[i] }]));
  // On two shards while a move copies its account: the one the account lives on now has it as it is.
  // (A copy may not say whose it is: a delivery's account is its subscription's, which a shard the
  // account left may no longer have.)
  const account = hits.length > 1 && accountOf ? hits.map((h) => accountOf(h.value)).find((a) => a) : undefined;
  if (account) {
    const home = await homeOf(env, account, { fresh: true });
    return hits.find((h) => h.shard.SHARD === home.SHARD) ?? hits[0];
  }
  return hits[0] ?? null;
}

/** The shard number of a view (0 for the base env, which is shard 0's). */
export const shardOf = (env: Env): number => (env as Partial<ShardEnv>).SHARD ?? 0;

/**
 * Whether an account row (a shard's copy, or the control row) says the account lives on `shard`
 * and is not frozen there by a move (src/delivery/account-move.ts): its shard is `shard`, and
 * `moving_to` is unset or (switched, not yet erased) that same shard.
 */
export const livesOn = (a: { shard: number; movingTo: number | null }, shard: number): boolean =>
  a.shard === shard && (a.movingTo ?? a.shard) === a.shard;

/** `livesOn` in SQL, for the account row `row` (a table name or alias) on `env`'s shard. */
export const livesHereSql = (env: Env, row = "accounts") => {
  const r = sql.raw(row);
  return sql`(${r}.shard = ${shardOf(env)} AND coalesce(${r}.moving_to, ${r}.shard) = ${r}.shard)`;
};
