/**
 * Portal links: a one-time link that opens a dashboard session for one account, with no API
 * key behind it (README "Embedding the dashboard"). The link carries 32 random bytes; only
 * their SHA-256 is stored. Opening it (GET) only looks; redeeming it (POST) marks it used and
 * writes the session's row in the same transaction, so two redemptions cannot both win.
 */
import { and, eq, gt, isNull, lte, sql } from "drizzle-orm";
import { randomBytes, sha256Hex, toBase64Url } from "../core/encoding";
import { SYSTEM_ACCOUNT_ID } from "../core/operational";
import { control } from "../db/shards";
import { database, sqlAll, sqlRun } from "../db/client";
import { accounts, dashboardSessions, portalLinks } from "../db/schema";

export const PORTAL_LINK_TTL_DEFAULT = 10 * 60;
export const PORTAL_LINK_TTL_MAX = 24 * 60 * 60;
/** Used and expired links are kept this long past expiry, to tell a late click what happened. */
const KEPT_AFTER_EXPIRY_MS = 24 * 60 * 60 * 1000;
const TOKEN = /^[\w-]{43}$/;

const hashOf = (token: string) => sha256Hex(`portal-link:${token}`);

export interface NewPortalLink {
  /** The link's secret, shown once: the link is /dashboard/portal/<token>. */
  token: string;
  /** Ms since the epoch. */
  expiresAt: number;
}

/** A new link for the account; null when there is no such account. One round trip. */
export async function createPortalLink(env: Env, accountId: string, ttlSeconds: number, now = Date.now()): Promise<NewPortalLink | null> {
  const token = toBase64Url(randomBytes(32));
  const hash = await hashOf(token);
  const expiresAt = now + ttlSeconds * 1000;
  const db = database(control(env));
  const [, inserted] = await db.batch([
    db.delete(portalLinks).where(lte(portalLinks.expiresAt, now - KEPT_AFTER_EXPIRY_MS)),
    sqlAll<{ account_id: string }>(
      control(env),
      sql`INSERT INTO portal_links (token_hash, account_id, created_at, expires_at)
        SELECT ${hash}, id, ${now}, ${expiresAt} FROM accounts WHERE id = ${accountId} AND id != ${SYSTEM_ACCOUNT_ID}
        RETURNING account_id`, // the system account (operational webhooks) has no dashboard
    ),
  ]);
  if (inserted.length === 0) return null;
  return { token, expiresAt };
}

/** Why a link opens nothing: already redeemed, past its time, or never issued (or revoked). */
export type LinkRefusal = "used" | "expired" | "unknown";

export type LinkLook = { ok: true; accountName: string; expiresAt: number } | { ok: false; why: LinkRefusal };

const refusal = (row: { usedAt: number | null; expiresAt: number } | undefined, now: number): LinkRefusal =>
  !row ? "unknown" : row.usedAt !== null ? "used" : row.expiresAt <= now ? "expired" : "unknown";

/** What a link would open, without using it (a GET: link previews and scanners change nothing). */
export async function inspectPortalLink(env: Env, token: string, now = Date.now()): Promise<LinkLook> {
  if (!TOKEN.test(token)) return { ok: false, why: "unknown" };
  const [row] = await database(control(env))
    .select({ usedAt: portalLinks.usedAt, expiresAt: portalLinks.expiresAt, accountName: accounts.name })
    .from(portalLinks)
    .innerJoin(accounts, eq(accounts.id, portalLinks.accountId))
    .where(eq(portalLinks.tokenHash, await hashOf(token)))
    .limit(1);
  if (row && row.usedAt === null && row.expiresAt > now) return { ok: true, accountName: row.accountName, expiresAt: row.expiresAt };
  return { ok: false, why: refusal(row, now) };
}

export type Redeemed = { ok: true; accountId: string } | { ok: false; why: LinkRefusal };

/**
 * Uses the link, once: in one transaction it is marked used by this session, the session's row
 * is written (only if this call marked it), expired sessions are deleted, and so is the session
 * the browser had before (`replaces`), only if the link was redeemed.
 */
export async function redeemPortalLink(
  env: Env,
  token: string,
  session: { id: string; expiresAt: number },
  replaces?: string,
  now = Date.now(),
): Promise<Redeemed> {
  if (!TOKEN.test(token)) return { ok: false, why: "unknown" };
  const hash = await hashOf(token);
  const db = database(control(env));
  const opened = sql`EXISTS (SELECT 1 FROM portal_links WHERE token_hash = ${hash} AND session_id = ${session.id})`;
  const [used, , , , [row]] = await db.batch([
    db
      .update(portalLinks)
      .set({ usedAt: now, sessionId: session.id })
      .where(and(eq(portalLinks.tokenHash, hash), isNull(portalLinks.usedAt), gt(portalLinks.expiresAt, now)))
      .returning({ accountId: portalLinks.accountId }),
    sqlRun(
      control(env),
      sql`INSERT INTO dashboard_sessions (id, kind, account_id, key_id, created_at, expires_at)
        SELECT ${session.id}, 'portal', account_id, NULL, ${now}, ${session.expiresAt}
        FROM portal_links WHERE token_hash = ${hash} AND session_id = ${session.id}`,
    ),
    db.delete(dashboardSessions).where(lte(dashboardSessions.expiresAt, now)),
    sqlRun(control(env), sql`DELETE FROM dashboard_sessions WHERE id = ${replaces ?? ""} AND ${opened}`),
    db.select({ usedAt: portalLinks.usedAt, expiresAt: portalLinks.expiresAt }).from(portalLinks).where(eq(portalLinks.tokenHash, hash)),
  ]);
  if (used.length > 0) return { ok: true, accountId: used[0].accountId };
  return { ok: false, why: refusal(row, now) };
}

/**
 * The operator ends an account's portal access: its portal sessions, and the links not yet
 * used. Null when there is no such account. One round trip.
 */
export async function revokePortalAccess(
  env: Env,
  accountId: string,
  now = Date.now(),
): Promise<{ sessionsEnded: number; linksRevoked: number } | null> {
  const db = database(control(env));
  const [account, sessions, links] = await db.batch([
    db.select({ id: accounts.id }).from(accounts).where(eq(accounts.id, accountId)),
    db
      .delete(dashboardSessions)
      .where(and(eq(dashboardSessions.accountId, accountId), eq(dashboardSessions.kind, "portal")))
      .returning({ expiresAt: dashboardSessions.expiresAt }),
    db
      .delete(portalLinks)
      .where(and(eq(portalLinks.accountId, accountId), isNull(portalLinks.usedAt)))
      .returning({ expiresAt: portalLinks.expiresAt }),
  ]);
  if (account.length === 0) return null;
  const live = (rows: { expiresAt: number }[]) => rows.filter((r) => r.expiresAt > now).length;
  return { sessionsEnded: live(sessions), linksRevoked: live(links) };
}

/** For deleting an account: its portal sessions and links go with its keys, before its log. */
export function portalAccessOfAccountStatements(env: Env, accountId: string) {
  const db = database(control(env));
  return [
    db.delete(dashboardSessions).where(eq(dashboardSessions.accountId, accountId)),
    db.delete(portalLinks).where(eq(portalLinks.accountId, accountId)),
  ] as const;
}
