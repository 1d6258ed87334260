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
import { apiKeys, listenSessions, subscriptions } from "../db/schema";
import { healthOf } from "../delivery/health";
import { eraseOfAccountStatements } from "../delivery/lifecycle";
import { listenSessionOf } from "../delivery/listen";
import { eraseRollupsOfAccountStatement } from "../delivery/rollup";
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
export async function deleteAccount(env: Env, accountId: string, budget = DELETION_BUDGET): Promise<{ complete: boolean }> {
  const db = database(env.DB);
  // First the account can no longer call (nor open or reconnect a listen session)...
  const [sessions, subs] = await db.batch([
    db.select({ id: listenSessions.id }).from(listenSessions).where(eq(listenSessions.accountId, accountId)),
    db.select({ id: subscriptions.id }).from(subscriptions).where(eq(subscriptions.accountId, accountId)),
    db.delete(apiKeys).where(eq(apiKeys.accountId, accountId)),
    ...portalAccessOfAccountStatements(env, accountId),
  ]);
  // ...its sockets close, with the reason (a session whose object cannot be reached now finds
  // its key gone at its next alarm)...
  await settle("listen session", sessions.map((s) => listenSessionOf(env, s.id).close(LISTEN_CLOSE.revoked, "the account was deleted")));
  // ...and nothing is claimed for it any more.
  await db.batch([
    db.delete(listenSessions).where(eq(listenSessions.accountId, accountId)),
    db.delete(subscriptions).where(eq(subscriptions.accountId, accountId)),
  ]);
  await settle("failure counter", subs.map((s) => healthOf(env, s.id).destroy()));

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
      sqlAll<{ id: string }>(env.DB, sql`DELETE FROM accounts WHERE id = ${accountId}
        AND NOT EXISTS (SELECT 1 FROM events WHERE account_id = ${accountId})
        AND NOT EXISTS (SELECT 1 FROM idempotency_keys WHERE account_id = ${accountId})
        AND NOT EXISTS (SELECT 1 FROM deleted_subscriptions WHERE account_id = ${accountId})
        RETURNING id`),
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
