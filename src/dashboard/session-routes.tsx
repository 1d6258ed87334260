/** Signing in (an API key exchanged for a session cookie, failures throttled) and signing out. */
import { Hono } from "hono";
import { authenticate } from "../api/auth";
import { toBase64, utf8 } from "../core/encoding";
import { body, type DashEnv, refusal, seeOther } from "./context";
import { field } from "./forms";
import { signIn } from "./pages";
import { BASE } from "./paths";
import { clearedSessionCookie, issueSession, sessionCookie } from "./session";
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
  await Promise.all([storeSession(c.env, claims), handBack(c.env, buckets)]);
  c.header("set-cookie", sessionCookie(token, c.req.url));
  return seeOther(c, safeNext(field(form, "next")));
});

sessionRoutes.post("/logout", async (c) => {
  const session = c.get("session");
  if (session) await endSession(c.env, session.id);
  c.header("set-cookie", clearedSessionCookie(c.req.url));
  return seeOther(c, BASE, { notice: "signed_out" });
});
