/** What every dashboard handler shares: its Hono env, the session, the parsed form, rendering and redirects. */
import type { Context } from "hono";
import type { Child } from "hono/jsx";
import type { AppEnv } from "../api/context";
import { ProblemError } from "../core/problem";
import type { AccountRow } from "../db/schema";
import { findSubscription } from "../services/subscriptions";
import type { FormBody } from "./forms";
import type { SessionKind } from "./session";
import type { PageContext } from "./views/layout";

export interface DashboardSession {
  /** The session's row in D1 (session-store.ts). */
  id: string;
  /** Signed in with an API key, or opened by a portal link (no key behind it). */
  kind: SessionKind;
  account: AccountRow;
  keyId: string | null;
  token: string;
  csrf: string;
}

export type DashEnv = {
  Bindings: Env;
  Variables: AppEnv["Variables"] & {
    nonce: string;
    session?: DashboardSession;
    /** The request carried a portal cookie that names no live session (signed out, expired or revoked). */
    portalEnded?: boolean;
  };
};

export type Ctx = Context<DashEnv>;

export const page = (c: Ctx): PageContext => {
  const session = c.get("session");
  return { nonce: c.get("nonce") ?? "", account: session?.account, csrf: session?.csrf };
};

export const render = (c: Ctx, body: Child, status = 200) => c.html(body as string, status as 200);

/** After a form: 303 See Other, so reloading the next page does not post again. */
export function seeOther(c: Ctx, url: string, query: Record<string, string | number> = {}) {
  const search = Object.entries(query)
    .map(([k, v]) => `${k}=${v}`)
    .join("&");
  return c.redirect(search ? `${url}?${search}` : url, 303);
}

export function requireSession(c: Ctx): DashboardSession {
  const session = c.get("session");
  // The guard answers every request without a session before it gets here.
  if (!session) throw new ProblemError("unauthorized", "sign in first");
  return session;
}

/** The posted form (parsed once: the CSRF guard has read it already). */
export const body = (c: Ctx) => c.req.parseBody({ all: true }) as Promise<FormBody>;

/** The subscription in the path, if it is the signed-in account's; not_found otherwise. */
export const ownedSubscription = (c: Ctx) => findSubscription(c.env, requireSession(c).account.id, c.req.param("id") ?? "");

/** A service refusal a page can show (4xx); anything else goes on to onError. */
export function refusal(err: unknown): ProblemError {
  if (err instanceof ProblemError && err.status < 500) return err;
  throw err;
}
