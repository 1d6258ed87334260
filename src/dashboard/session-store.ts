/**
 * The server side of dashboard sessions: one D1 row per signed-in browser. Checking a
 * session is the one read the dashboard already made for the account (now joined with the
 * session's row), so ending sessions costs no extra round trip per request.
 */
import { and, eq, gt, lte } from "drizzle-orm";
import { database } from "../db/client";
import { type AccountRow, accounts, apiKeys, dashboardSessions } from "../db/schema";
import type { SessionClaims } from "./session";

/** Ms since the epoch: the claims' expiry is in seconds, as the token carries it. */
const expiryMs = (claims: SessionClaims) => claims.expiresAt * 1000;

/** The new session's row, and (same round trip) the rows of sessions that have expired. */
export async function storeSession(env: Env, claims: SessionClaims, now = Date.now()): Promise<void> {
  const db = database(env.DB);
  await db.batch([
    db.delete(dashboardSessions).where(lte(dashboardSessions.expiresAt, now)),
    db.insert(dashboardSessions).values({ id: claims.id, keyId: claims.keyId, createdAt: now, expiresAt: expiryMs(claims) }),
  ]);
}

/** The account behind a session, while its row and the API key it signed in with both exist. */
export async function sessionAccount(env: Env, claims: SessionClaims, now = Date.now()): Promise<AccountRow | null> {
  const [row] = await database(env.DB)
    .select({ account: accounts })
    .from(dashboardSessions)
    .innerJoin(apiKeys, eq(apiKeys.id, dashboardSessions.keyId))
    .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
    .where(
      and(
        eq(dashboardSessions.id, claims.id),
        eq(dashboardSessions.keyId, claims.keyId),
        eq(apiKeys.accountId, claims.accountId),
        gt(dashboardSessions.expiresAt, now),
      ),
    )
    .limit(1);
  return row?.account ?? null;
}

/** Signing out: the row goes, so the cookie (or any copy of it) names nothing any more. */
export async function endSession(env: Env, id: string): Promise<void> {
  await database(env.DB).delete(dashboardSessions).where(eq(dashboardSessions.id, id));
}
