/**
 * The server side of dashboard sessions: one D1 row per signed-in browser. Checking a
 * session is the one read the dashboard already made for the account (now joined with the
 * session's row), so ending sessions costs no extra round trip per request.
 */
import { and, eq, gt, isNull, lte, or } from "drizzle-orm";
import { control } from "../db/shards";
import { database } from "../db/client";
import { type AccountRow, accounts, apiKeys, dashboardSessions } from "../db/schema";
import type { SessionClaims } from "./session";

/** Ms since the epoch: the claims' expiry is in seconds, as the token carries it. */
export const expiryMs = (claims: SessionClaims) => claims.expiresAt * 1000;

/** The statement that deletes the rows of sessions that have expired (it goes with each new one). */
export const expiredSessions = (env: Env, now: number) =>
  database(control(env)).delete(dashboardSessions).where(lte(dashboardSessions.expiresAt, now));

/**
 * The new session's row, and (same round trip) the rows of sessions that have expired and of
 * the session this browser had before (`replaces`), if any.
 */
export async function storeSession(env: Env, claims: SessionClaims, now = Date.now(), replaces?: string): Promise<void> {
  const db = database(control(env));
  await db.batch([
    expiredSessions(env, now),
    ...(replaces ? [db.delete(dashboardSessions).where(eq(dashboardSessions.id, replaces))] : []),
    db.insert(dashboardSessions).values({
      id: claims.id,
      kind: claims.kind,
      accountId: claims.accountId,
      keyId: claims.keyId,
      createdAt: now,
      expiresAt: expiryMs(claims),
    }),
  ]);
}

/**
 * The account behind a session, while its row exists and, for a key session, the API key it
 * signed in with too (a portal session has none: its row alone keeps it).
 */
export async function sessionAccount(env: Env, claims: SessionClaims, now = Date.now()): Promise<AccountRow | null> {
  const [row] = await database(control(env))
    .select({ account: accounts })
    .from(dashboardSessions)
    .innerJoin(accounts, eq(accounts.id, dashboardSessions.accountId))
    .leftJoin(apiKeys, eq(apiKeys.id, dashboardSessions.keyId))
    .where(
      and(
        eq(dashboardSessions.id, claims.id),
        eq(dashboardSessions.accountId, claims.accountId),
        eq(dashboardSessions.kind, claims.kind),
        claims.keyId === null
          ? isNull(dashboardSessions.keyId)
          : and(eq(dashboardSessions.keyId, claims.keyId), eq(apiKeys.accountId, claims.accountId)),
        gt(dashboardSessions.expiresAt, now),
      ),
    )
    .limit(1);
  return row?.account ?? null;
}

/** Signing out: the rows go, so the cookie (or any copy of it) names nothing any more. */
export async function endSession(env: Env, ...ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await database(control(env))
    .delete(dashboardSessions)
    .where(or(...ids.map((id) => eq(dashboardSessions.id, id))));
}
