/**
 * Dashboard sessions: an API key is exchanged once for a signed, short-lived token
 * kept in an HttpOnly cookie (never the key), or a portal link opens one with no key behind
 * it (portal.ts). The token is
 *   <account id>.<key id, or "portal">.<expiry, unix seconds>.<session id>.<base64url HMAC-SHA256 of the rest>
 * under a key derived from SECRETS_KEY with its own label; each state-changing form
 * carries a CSRF token, an HMAC of the session token under a second derived key.
 * The signature turns away forged cookies without a query; the session id names a D1 row
 * (session-store.ts) that signing out or revoking the key deletes, so a copied cookie dies too.
 */
import { hmacSha256, timingSafeEqualStrings } from "../core/crypto";
import { fromBase64, randomBytes, toBase64Url, utf8 } from "../core/encoding";

export const SESSION_COOKIE = "hookline_session";
/** A portal session's cookie: its own name, since it lives in another cookie jar (partitioned). */
export const PORTAL_COOKIE = "hookline_portal";
export const SESSION_TTL_SECONDS = 8 * 60 * 60;
export const COOKIE_PATH = "/dashboard";

const SESSION_LABEL = "hookline/dashboard/session/v1";
const CSRF_LABEL = "hookline/dashboard/csrf/v1";

interface DerivedKeys {
  session: Uint8Array;
  csrf: Uint8Array;
}

const derived = new Map<string, Promise<DerivedKeys>>();

/** Two keys from SECRETS_KEY, one per purpose (HMAC-SHA256 keyed with SECRETS_KEY over a label). */
function keys(secretsKey: string): Promise<DerivedKeys> {
  let found = derived.get(secretsKey);
  if (!found) {
    const root = fromBase64(secretsKey);
    found = Promise.all([
      hmacSha256(root, `dashboard-root:${secretsKey}`, utf8(SESSION_LABEL)),
      hmacSha256(root, `dashboard-root:${secretsKey}`, utf8(CSRF_LABEL)),
    ]).then(([session, csrf]) => ({ session, csrf }));
    derived.set(secretsKey, found);
  }
  return found;
}

const mac = async (secretsKey: string, purpose: keyof DerivedKeys, message: string) =>
  toBase64Url(await hmacSha256((await keys(secretsKey))[purpose], `dashboard-${purpose}:${secretsKey}`, utf8(message)));

export type SessionKind = "key" | "portal";

export interface SessionClaims {
  id: string;
  kind: SessionKind;
  accountId: string;
  /** The API key signed in with; null for a portal session. */
  keyId: string | null;
  /** Unix seconds. */
  expiresAt: number;
}

const ID = /^[a-z]+_[0-9a-f-]{36}$/;
const SESSION_ID = /^[\w-]{22}$/;
const PORTAL = "portal";

export interface IssuedSession {
  token: string;
  claims: SessionClaims;
}

export const newSessionId = () => toBase64Url(randomBytes(16));

/**
 * A new session's signed token (keyId null: a portal session); the caller stores its row
 * (session-store.ts) before handing it out, or passes the id of the row it wrote.
 */
export async function issueSession(
  secretsKey: string,
  accountId: string,
  keyId: string | null,
  now = Date.now(),
  ttlSeconds = SESSION_TTL_SECONDS,
  id = newSessionId(),
): Promise<IssuedSession> {
  const claims: SessionClaims = {
    id,
    kind: keyId === null ? "portal" : "key",
    accountId,
    keyId,
    expiresAt: Math.floor(now / 1000) + ttlSeconds,
  };
  const payload = `${accountId}.${keyId ?? PORTAL}.${claims.expiresAt}.${claims.id}`;
  return { token: `${payload}.${await mac(secretsKey, "session", payload)}`, claims };
}

/** The claims of a well-signed, unexpired token; null for anything else. */
export async function verifySession(secretsKey: string, token: string | undefined, now = Date.now()): Promise<SessionClaims | null> {
  if (!token || token.length > 512) return null;
  const parts = token.split(".");
  if (parts.length !== 5) return null;
  const [accountId, keyId, exp, id, signature] = parts;
  const payload = parts.slice(0, 4).join(".");
  if (!(await timingSafeEqualStrings(signature, await mac(secretsKey, "session", payload)))) return null;
  const expiresAt = Number(exp);
  if (!Number.isSafeInteger(expiresAt) || expiresAt * 1000 <= now) return null;
  if (!ID.test(accountId) || !(keyId === PORTAL || ID.test(keyId)) || !SESSION_ID.test(id)) return null;
  return keyId === PORTAL
    ? { id, kind: "portal", accountId, keyId: null, expiresAt }
    : { id, kind: "key", accountId, keyId, expiresAt };
}

/** The CSRF token of a session: every state-changing form posts it back as `_csrf`. */
export const csrfToken = (secretsKey: string, sessionToken: string) => mac(secretsKey, "csrf", sessionToken);

export async function verifyCsrf(secretsKey: string, sessionToken: string, given: unknown): Promise<boolean> {
  if (typeof given !== "string" || given.length === 0 || given.length > 128) return false;
  return timingSafeEqualStrings(given, await csrfToken(secretsKey, sessionToken));
}

/** Browsers treat these as secure contexts over plain http, so the cookie may skip Secure there only. */
export function isLocalHost(url: string): boolean {
  const host = new URL(url).hostname;
  return host === "localhost" || host === "127.0.0.1" || host === "[::1]";
}

export function sessionCookie(token: string, requestUrl: string, maxAge = SESSION_TTL_SECONDS): string {
  const secure = isLocalHost(requestUrl) ? "" : "; Secure";
  return `${SESSION_COOKIE}=${token}; Path=${COOKIE_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure}`;
}

export const clearedSessionCookie = (requestUrl: string) => sessionCookie("", requestUrl, 0);

/**
 * A portal session's cookie: sent inside another site's iframe (SameSite=None), kept in that
 * site's partition only (Partitioned, which needs Secure; browsers accept Secure from
 * http://localhost and http://127.0.0.1 too).
 */
export const portalCookie = (token: string, maxAge = SESSION_TTL_SECONDS) =>
  `${PORTAL_COOKIE}=${token}; Path=${COOKIE_PATH}; Max-Age=${maxAge}; HttpOnly; Secure; SameSite=None; Partitioned`;

export const clearedPortalCookie = () => portalCookie("", 0);
