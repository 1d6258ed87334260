/** Signing in (an API key exchanged for a signed session cookie) and signing out. */
import { Hono } from "hono";
import { authenticate } from "../api/auth";
import { toBase64, utf8 } from "../core/encoding";
import { body, type DashEnv, refusal, seeOther } from "./context";
import { field } from "./forms";
import { signIn } from "./pages";
import { BASE } from "./paths";
import { clearedSessionCookie, sessionCookie, signSession } from "./session";

/** Where to go after signing in: only a dashboard path, never another site. */
const safeNext = (next: string | undefined) =>
  next && /^\/dashboard(\/[\w\-/]*)?(\?[\w\-=&%.:]*)?$/.test(next) ? next : BASE;

export const sessionRoutes = new Hono<DashEnv>();

sessionRoutes.get("/login", (c) => (c.get("session") ? seeOther(c, BASE) : signIn(c)));

sessionRoutes.post("/login", async (c) => {
  const form = await body(c);
  const name = field(form, "name").trim();
  const key = field(form, "key").trim();
  if (!key) return signIn(c, { status: 422, name, error: "Enter an API key." });
  const header = name ? `Basic ${toBase64(utf8(`${name}:${key}`))}` : `Bearer ${key}`;
  const config = c.get("config");
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
  const token = await signSession(config.secretsKey, principal.account.id, principal.keyId);
  c.header("set-cookie", sessionCookie(token, c.req.url));
  return seeOther(c, safeNext(field(form, "next")));
});

sessionRoutes.post("/logout", (c) => {
  c.header("set-cookie", clearedSessionCookie(c.req.url));
  return seeOther(c, BASE, { notice: "signed_out" });
});
