/**
 * Deleting an account: its keys, dashboard sessions and portal links, listen sessions (their
 * sockets closed), subscriptions (and their failure counters' Durable Objects), events,
 * deliveries, attempts and idempotency keys. Nothing of it is delivered afterwards: the
 * subscriptions go first, and the consumer neither claims a delivery whose subscription is
 * gone nor records one that is.
 */
import { eq, sql } from "drizzle-orm";
import { LISTEN_CLOSE } from "../core/listen-lease";
import { database, sqlAll, sqlRun } from "../db/client";
import { type AccountRow, accounts, apiKeys, listenSessions, subscriptions } from "../db/schema";
import { control, forgetHome, shardEnv } from "../db/shards";
import { healthOf } from "../delivery/health";
import { eraseOfAccountStatements } from "../delivery/lifecycle";
import { listenSessionOf } from "../delivery/listen";
import { eraseRollupsOfAccountStatement } from "../delivery/rollup";
import { batchWithEvents, subscriptionDeleted } from "./operational";
import { portalAccessOfAccountStatements } from "./portal";

export interface DeletionBudget {
  /** Rows each statement of a round deletes at most: one D1 batch (a transaction) stays short. */
  rows: number;
  /** Rounds one call makes: five statements each, under the 1,000 D1 queries of an invocation. */
  rounds: number;
}

/** About 150,000 attempts, and as many deliveries and events, per call. */
export const DELETION_BUDGET: DeletionBudget = { rows: 1_000, rounds: 150 };

/**
 * Deletes what it can within the budget; `complete` is false when the log was larger, in
 * which case the account row stays (so the operator's next call finds it and goes on), but
 * its keys, subscriptions and sessions are already gone.
 */
export async function deleteAccount(
  base: Env,
  account: Pick<AccountRow, "id" | "shard">,
  budget = DELETION_BUDGET,
): Promise<{ complete: boolean }> {
  const accountId = account.id;
  // Its data lives on its shard; its keys, sessions, portal links and the account row on the control database.
  const env = shardEnv(base, account.shard);
  const db = database(env.DB);
  const controlDb = database(control(env));
  // First the account can no longer call (nor open or reconnect a listen session): its shard's
  // copies of its keys, then the keys themselves (services/api-keys)...
  if (env.DB !== control(env)) await db.delete(apiKeys).where(eq(apiKeys.accountId, accountId));
  await controlDb.batch([
    controlDb.delete(apiKeys).where(eq(apiKeys.accountId, accountId)),
    ...portalAccessOfAccountStatements(env, accountId),
  ]);
  const [sessions, subs] = await db.batch([
    db.select({ id: listenSessions.id }).from(listenSessions).where(eq(listenSessions.accountId, accountId)),
    db.select().from(subscriptions).where(eq(subscriptions.accountId, accountId)),
  ]);
  // ...its sockets close, with the reason (a session whose object cannot be reached now finds
  // its key gone at its next alarm)...
  await settle("listen session", sessions.map((s) => listenSessionOf(env, s.id).close(LISTEN_CLOSE.revoked, "the account was deleted")));
  // ...and nothing is claimed for it any more (the operator hears of each subscription, listen ones aside).
  const now = Date.now();
  const told = subs.filter((s) => s.listenSessionId === null).map((s) => subscriptionDeleted(s, "its account was deleted", now));
  await batchWithEvents(env, [], told, now, [
    db.delete(listenSessions).where(eq(listenSessions.accountId, accountId)),
    db.delete(subscriptions).where(eq(subscriptions.accountId, accountId)),
  ]);
  await settle("failure counter", subs.map((s) => healthOf(env, s.id).destroy()));

  const { complete } = await eraseFromShard(env, accountId, budget);
  if (complete) {
    // The shard's copy went last; now the control row (the same row when the shard is the control database).
    if (env.DB !== control(env)) await controlDb.delete(accounts).where(eq(accounts.id, accountId));
    forgetHome(accountId);
  }
  return { complete };
}

/**
 * Deletes an account's log from one shard, then its copy of the account row, within the budget:
 * deleteAccount's last part, and the end of a move on the shard it left. Its subscriptions and
 * listen sessions must be gone first (their deliveries are reached through deleted_subscriptions).
 */
export async function eraseFromShard(
  env: Env,
  accountId: string,
  budget = DELETION_BUDGET,
  /** Leave the account row (a move off shard 0, whose row is the control database's). */
  keepAccountRow = false,
): Promise<{ complete: boolean }> {
  const db = database(env.DB);
  const n = budget.rows;
  for (let round = 0; round < budget.rounds; round++) {
    // Deliveries and attempts are reached through the account's deleted subscriptions (indexed),
    // children first, so that an interrupted call never leaves rows the next one cannot find;
    // events once no delivery of the account is left.
    const ofAccount = sql`SELECT 1 FROM deleted_subscriptions s JOIN deliveries d ON d.subscription_id = s.id WHERE s.account_id = ${accountId}`;
    const [, , , , , gone] = await db.batch([
      ...eraseOfAccountStatements(env, accountId, n),
      sqlRun(env.DB, sql`DELETE FROM events WHERE id IN (
        SELECT e.id FROM events e WHERE e.account_id = ${accountId} AND NOT EXISTS (${ofAccount}) LIMIT ${n})`),
      sqlRun(env.DB, sql`DELETE FROM deleted_subscriptions WHERE account_id = ${accountId} AND NOT EXISTS (${ofAccount})`),
      sqlRun(env.DB, sql`DELETE FROM idempotency_keys WHERE account_id = ${accountId} AND key IN (
        SELECT key FROM idempotency_keys WHERE account_id = ${accountId} LIMIT ${n})`),
      // The account goes last, in the same transaction as its last rows.
      sqlAll<{ id: string }>(env.DB, sql`${keepAccountRow ? sql`SELECT id FROM accounts` : sql`DELETE FROM accounts`} WHERE id = ${accountId}
        AND NOT EXISTS (SELECT 1 FROM events WHERE account_id = ${accountId})
        AND NOT EXISTS (SELECT 1 FROM idempotency_keys WHERE account_id = ${accountId})
        AND NOT EXISTS (SELECT 1 FROM deleted_subscriptions WHERE account_id = ${accountId})
        ${keepAccountRow ? sql`` : sql`RETURNING id`}`),
      // Its stats, in every round: a batch settled meanwhile may have added to them.
      eraseRollupsOfAccountStatement(env, accountId),
    ]);
    if (gone.length > 0) return { complete: true };
  }
  return { complete: false };
}

async function settle(what: string, calls: Promise<unknown>[]): Promise<void> {
  for (const s of await Promise.allSettled(calls)) {
    if (s.status === "rejected") console.error(`${what} not cleared for a deleted account:`, String(s.reason));
  }
}
