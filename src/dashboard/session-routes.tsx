/** Signing in (an API key exchanged for a session cookie, failures throttled) and signing out. */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { authenticate } from "../api/auth";
import { toBase64, utf8 } from "../core/encoding";
import { body, type DashEnv, refusal, seeOther } from "./context";
import { field } from "./forms";
import { signIn } from "./pages";
import { BASE, PORTAL_PAGES } from "./paths";
import {
  clearedPortalCookie,
  clearedSessionCookie,
  issueSession,
  PORTAL_COOKIE,
  SESSION_COOKIE,
  sessionCookie,
  verifySession,
} from "./session";
import { endSession, storeSession } from "./session-store";
import { handBack, reserveSignIn, signInBuckets } from "./sign-in-throttle";

/** Where to go after signing in: only a dashboard path, never another site. */
const safeNext = (next: string | undefined) =>
  next && /^\/dashboard(\/[\w\-/]*)?(\?[\w\-=&%.:]*)?$/.test(next) ? next : BASE;

const minutes = (seconds: number) => {
  const n = Math.ceil(seconds / 60);
  return `${n} ${n === 1 ? "minute" : "minutes"}`;
};

export const sessionRoutes = new Hono<DashEnv>();

sessionRoutes.get("/login", (c) => (c.get("session") ? seeOther(c, BASE) : signIn(c)));

sessionRoutes.post("/login", async (c) => {
  const form = await body(c);
  const name = field(form, "name").trim();
  const key = field(form, "key").trim();
  if (!key) return signIn(c, { status: 422, name, error: "Enter an API key." });
  const buckets = await signInBuckets(key, c.req.header("cf-connecting-ip"));
  const wait = await reserveSignIn(c.env, buckets);
  if (wait !== null) {
    c.header("retry-after", String(wait));
    return signIn(c, { status: 429, name, error: `Too many failed sign-ins: try again in ${minutes(wait)}.` });
  }
  const header = name ? `Basic ${toBase64(utf8(`${name}:${key}`))}` : `Bearer ${key}`;
  let principal;
  try {
    // No operator token here: it is looked up like any wrong key and never confirmed.
    principal = await authenticate(c.env, null, header);
  } catch (err) {
    const problem = refusal(err);
    const error = problem.message.charAt(0).toUpperCase() + problem.message.slice(1) + ".";
    return signIn(c, { status: 401, name, error });
  }
  if (principal.kind !== "account") throw new Error("authenticate answered the operator without the operator token");
  const { token, claims } = await issueSession(c.get("config").secretsKey, principal.account.id, principal.keyId);
  // The session this browser had (a portal one, say) ends as this one starts.
  await Promise.all([storeSession(c.env, claims, Date.now(), c.get("session")?.id), handBack(c.env, buckets)]);
  c.header("set-cookie", sessionCookie(token, c.req.url));
  if (getCookie(c, PORTAL_COOKIE)) c.header("set-cookie", clearedPortalCookie(), { append: true });
  return seeOther(c, safeNext(field(form, "next")));
});

/** Ends the session of every cookie the browser sent (key and portal), and clears them. */
sessionRoutes.post("/logout", async (c) => {
  const session = c.get("session");
  const secretsKey = c.get("config").secretsKey;
  const [key, portal] = [getCookie(c, SESSION_COOKIE), getCookie(c, PORTAL_COOKIE)];
  const claims = await Promise.all([key, portal].map((token) => (token ? verifySession(secretsKey, token) : null)));
  await endSession(c.env, ...claims.flatMap((cl) => (cl ? [cl.id] : [])));
  if (key !== undefined) c.header("set-cookie", clearedSessionCookie(c.req.url), { append: true });
  if (portal !== undefined) c.header("set-cookie", clearedPortalCookie(), { append: true });
  if (session?.kind === "portal") return seeOther(c, `${PORTAL_PAGES}/signed-out`);
  return seeOther(c, BASE, { notice: "signed_out" });
});
