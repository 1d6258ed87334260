/**
 * A portal link (POST /v1/accounts/{id}/portal-links) opened in a browser: GET shows a page that
 * posts back at once, and only that POST uses the link, so a link scanner or preview that fetches
 * it changes nothing. The session it opens has no API key behind it; its cookie is SameSite=None
 * and Partitioned, so it works inside another site's iframe and only there.
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import { type LinkRefusal, inspectPortalLink, redeemPortalLink } from "../services/portal";
import { type Ctx, type DashEnv, render, seeOther } from "./context";
import { BASE, PORTAL_PAGES } from "./paths";
import { clearedPortalCookie, clearedSessionCookie, issueSession, newSessionId, portalCookie, SESSION_COOKIE, SESSION_TTL_SECONDS } from "./session";
import { PortalLinkPage, PortalMessagePage } from "./views/portal";

const COME_BACK = "To open it again, go back to the page of the app that showed it.";

const refusals: Record<LinkRefusal, { status: 404 | 410; title: string; detail: string }> = {
  used: { status: 410, title: "Link already used", detail: `This sign-in link has been used already: each link works once. ${COME_BACK}` },
  expired: { status: 410, title: "Link expired", detail: `This sign-in link has expired. ${COME_BACK}` },
  unknown: { status: 404, title: "Link not valid", detail: `This sign-in link is not valid (it may have been revoked). ${COME_BACK}` },
};

const refused = (c: Ctx, why: LinkRefusal) => {
  const { status, title, detail } = refusals[why];
  return render(c, <PortalMessagePage nonce={c.get("nonce")} title={title} detail={detail} />, status);
};

/** Where a portal session ends: signed out (200), or ended some other way (401, and its cookie is cleared). */
export function portalEnded(c: Ctx, how: "signed-out" | "ended") {
  if (how === "ended") c.header("set-cookie", clearedPortalCookie(), { append: true });
  const [title, detail, status] =
    how === "signed-out"
      ? ["Signed out", `You are signed out of the webhooks dashboard. ${COME_BACK}`, 200]
      : ["Session ended", `Your session has ended: it expired, or access was revoked. ${COME_BACK}`, 401];
  return render(c, <PortalMessagePage nonce={c.get("nonce")} title={title} detail={detail} />, status);
}

export const portalRoutes = new Hono<DashEnv>();

portalRoutes.get("/portal/signed-out", (c) => portalEnded(c, "signed-out"));

portalRoutes.get("/portal/:token", async (c) => {
  const look = await inspectPortalLink(c.env, c.req.param("token"));
  if (!look.ok) return refused(c, look.why);
  return render(c, <PortalLinkPage nonce={c.get("nonce")} action={`${PORTAL_PAGES}/${c.req.param("token")}`} accountName={look.accountName} />);
});

portalRoutes.post("/portal/:token", async (c) => {
  const now = Date.now();
  const id = newSessionId();
  const expiresAt = Math.floor(now / 1000) + SESSION_TTL_SECONDS;
  const redeemed = await redeemPortalLink(c.env, c.req.param("token"), { id, expiresAt: expiresAt * 1000 }, c.get("session")?.id, now);
  if (!redeemed.ok) return refused(c, redeemed.why);
  const { token } = await issueSession(c.get("config").secretsKey, redeemed.accountId, null, now, SESSION_TTL_SECONDS, id);
  c.header("set-cookie", portalCookie(token));
  // The key session this browser had, if any, has just ended with its row.
  if (getCookie(c, SESSION_COOKIE)) c.header("set-cookie", clearedSessionCookie(c.req.url), { append: true });
  return seeOther(c, BASE);
});
