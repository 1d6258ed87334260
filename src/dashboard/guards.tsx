/**
 * What stands in front of every dashboard route: security headers, the session, the
 * origin and CSRF checks of every POST, and the error page for whatever goes wrong.
 */
import type { ErrorHandler, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { randomBytes, toBase64Url } from "../core/encoding";
import { ProblemError } from "../core/problem";
import { frozenProblem, isFrozen } from "../delivery/account-move";
import { sameOrigin } from "../core/same-origin";
import { body, type Ctx, type DashEnv, page, render } from "./context";
import { signIn } from "./pages";
import { BASE, PORTAL_PAGES } from "./paths";
import { portalEnded } from "./portal-routes";
import { csrfToken, PORTAL_COOKIE, SESSION_COOKIE, type SessionKind, verifyCsrf, verifySession } from "./session";
import { sessionAccount } from "./session-store";
import { shardEnv } from "../db/shards";
import { ErrorPage } from "./views/confirm-and-error";

const showError = (c: Ctx, title: string, detail: string, status: number) =>
  render(c, <ErrorPage {...page(c)} title={title} detail={detail} />, status);

const titles: Record<number, string> = { 401: "Sign in first", 403: "Not allowed", 404: "Not found", 409: "Not possible now" };

export const errorPage: ErrorHandler<DashEnv> = (err, c) => {
  if (err instanceof ProblemError && err.status < 500) {
    return showError(c, titles[err.status] ?? "Something is wrong", err.message, err.status);
  }
  console.error(`${c.req.method} ${new URL(c.req.url).pathname} failed:`, err instanceof Error ? err.message : err);
  return showError(c, "Something went wrong", "Something went wrong on our side; nothing was changed. Try again.", 500);
};

/**
 * Every answer: a fresh CSP nonce for the inline style and script, nothing cached, and framed
 * only by the origins of PORTAL_FRAME_ANCESTORS (none by default: then X-Frame-Options says
 * DENY too; with origins listed, CSP frame-ancestors alone governs).
 */
export const securityHeaders: MiddlewareHandler<DashEnv> = async (c, next) => {
  const nonce = toBase64Url(randomBytes(16));
  c.set("nonce", nonce);
  await next();
  const h = c.res.headers;
  const ancestors = c.get("config").portalFrameAncestors;
  h.set(
    "content-security-policy",
    `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors ${ancestors.length ? ancestors.join(" ") : "'none'"}; base-uri 'none'`,
  );
  h.set("cache-control", "no-store");
  if (ancestors.length === 0) h.set("x-frame-options", "DENY");
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "same-origin");
};

const cookies: [string, SessionKind][] = [
  [SESSION_COOKIE, "key"],
  [PORTAL_COOKIE, "portal"],
];

/**
 * The session, if a cookie is well signed (and of its cookie's kind) and its row still exists,
 * with the API key of a key session. The key cookie is read first; inside another site's frame
 * only the portal cookie is sent.
 */
export const loadSession: MiddlewareHandler<DashEnv> = async (c, next) => {
  const secretsKey = c.get("config").secretsKey;
  for (const [name, kind] of cookies) {
    const token = getCookie(c, name);
    if (!token) continue;
    const claims = await verifySession(secretsKey, token);
    const account = claims?.kind === kind ? await sessionAccount(c.env, claims) : null;
    if (claims && account) {
      c.set("session", { id: claims.id, kind, account, keyId: claims.keyId, token, csrf: await csrfToken(secretsKey, token) });
      // Its pages read and write the account's shard (src/db/shards.ts); while a move freezes it, only read.
      c.env = shardEnv(c.env, account.shard);
      if (isFrozen(account) && c.req.method === "POST") throw frozenProblem(account);
      break;
    }
    if (kind === "portal") c.set("portalEnded", true);
  }
  await next();
};

/**
 * Every page but sign-in and the portal link's pages needs a session; every POST comes from this
 * origin (a frame's own forms do) and, but for signing in and redeeming a link, carries the CSRF
 * token. A browser whose portal session has ended is told so, not shown the key sign-in.
 */
export const checkRequest: MiddlewareHandler<DashEnv> = async (c, next) => {
  const path = c.req.path;
  if (path === `${BASE}/`) return c.redirect(BASE, 301);
  const portal = path.startsWith(`${PORTAL_PAGES}/`);
  const session = c.get("session");
  if (c.req.method === "GET" || c.req.method === "HEAD") {
    if (portal) return next();
    if (!session && c.get("portalEnded")) return portalEnded(c, "ended");
    if (!session && path !== BASE && path !== `${BASE}/login`) return signIn(c, { status: 401 });
    return next();
  }
  if (c.req.method !== "POST") throw new ProblemError("method_not_allowed", "the dashboard takes GET and POST only");
  if (!sameOrigin(c.req.url, c.req.raw.headers)) {
    return showError(c, "Refused", "This form was sent from another site.", 403);
  }
  if (path === `${BASE}/login` || portal) return next();
  if (!session && c.get("portalEnded")) return portalEnded(c, "ended");
  if (!session) return signIn(c, { status: 401, error: "Your session has ended: sign in again." });
  const form = await body(c);
  if (!(await verifyCsrf(c.get("config").secretsKey, session.token, form._csrf))) {
    return showError(c, "Refused", "This form is out of date or did not come from this dashboard. Reload the page and try again.", 403);
  }
  return next();
};
