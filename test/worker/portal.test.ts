/**
 * Portal links and portal sessions inside workerd: the operator's routes (auth, ttl bounds,
 * revocation), a link used once (GET looks, POST uses; expiry; concurrent redemptions), the
 * session it opens (its cookie, CSRF, sign-out, no API key behind it) and the framing headers.
 * The cross-site iframe itself is driven in a real Chromium: test/e2e/portal.test.ts.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import { parseFrameAncestors } from "../../src/config";
import { PORTAL_COOKIE, SESSION_COOKIE } from "../../src/dashboard/session";
import { BASE, call, createAccount, createSubscription, expectProblem, MISSING_ACCOUNT_ID } from "./harness";

const LINK = /^http:\/\/hookline\.test\/dashboard\/portal\/([\w-]{43})$/;
const SAME_ORIGIN = { origin: BASE, "sec-fetch-site": "same-origin" };

interface Cookies {
  key?: string;
  portal?: string;
}

async function page(path: string, init: RequestInit & { cookies?: Cookies } = {}) {
  const headers = new Headers(init.headers);
  const jar = [
    init.cookies?.key !== undefined ? `${SESSION_COOKIE}=${init.cookies.key}` : "",
    init.cookies?.portal !== undefined ? `${PORTAL_COOKIE}=${init.cookies.portal}` : "",
  ].filter(Boolean);
  if (jar.length) headers.set("cookie", jar.join("; "));
  const res = await exports.default.fetch(new Request(BASE + path, { ...init, headers, redirect: "manual" }));
  return { status: res.status, headers: res.headers, text: await res.text(), setCookies: res.headers.getAll("set-cookie") };
}

const post = (fields: Record<string, string> = {}, headers: Record<string, string> = SAME_ORIGIN) => ({
  method: "POST",
  body: new URLSearchParams(fields),
  headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
});

const csrfIn = (html: string) => html.match(/name="_csrf" value="([^"]+)"/)![1];
const cookieValue = (setCookies: string[], name: string) =>
  setCookies.find((c) => c.startsWith(`${name}=`))?.match(new RegExp(`^${name}=([^;]*)`))?.[1];
const signedIn = (html: string) => html.includes(">Sign out<");

async function newLink(accountId: string, body?: unknown) {
  const res = await call("POST", `/v1/accounts/${accountId}/portal-links`, body === undefined ? {} : { body });
  expect(res.status, res.text).toBe(201);
  const path = new URL(res.json.url).pathname;
  return { url: res.json.url as string, path, token: res.json.url.match(LINK)![1] as string, expiresAt: Date.parse(res.json.expires_at) };
}

/** Redeems a link as a browser's own page does, and returns the portal cookie it sets. */
async function redeem(path: string) {
  const res = await page(path, post());
  expect(res.status, res.text).toBe(303);
  expect(res.headers.get("location")).toBe("/dashboard");
  return cookieValue(res.setCookies, PORTAL_COOKIE)!;
}

async function keySignIn(key: string) {
  const res = await page("/dashboard/login", post({ key }));
  expect(res.status, res.text).toBe(303);
  return cookieValue(res.setCookies, SESSION_COOKIE)!;
}

describe("POST /v1/accounts/{id}/portal-links", () => {
  it("answers a one-time link, 10 minutes by default and up to 24 h, storing only its hash", async () => {
    const { id } = await createAccount();
    const before = Date.now();
    const res = await call("POST", `/v1/accounts/${id}/portal-links`, { body: {} });
    expect(res.status, res.text).toBe(201);
    expect(Object.keys(res.json).sort()).toEqual(["expires_at", "url"]);
    expect(res.json.url).toMatch(LINK);
    const expiresAt = Date.parse(res.json.expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(before + 600_000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 600_000);

    // No body at all is the default too; the longest allowed is a day.
    const bare = await newLink(id);
    expect(bare.expiresAt - Date.now()).toBeGreaterThan(590_000);
    const day = await newLink(id, { ttl_seconds: 86_400 });
    expect(day.expiresAt - Date.now()).toBeGreaterThan(86_390_000);
    expect(day.expiresAt - Date.now()).toBeLessThanOrEqual(86_400_000);

    const rows = await env.DB.prepare("SELECT * FROM portal_links WHERE account_id = ?").bind(id).all();
    expect(rows.results).toHaveLength(3);
    const stored = JSON.stringify(rows.results);
    for (const link of [bare, day]) expect(stored).not.toContain(link.token);
    expect(rows.results.map((r) => r.expires_at).sort()).toContain(day.expiresAt);
  });

  it("refuses a ttl out of bounds or of the wrong type (422 naming ttl_seconds), and unknown fields", async () => {
    const { id } = await createAccount();
    for (const ttl_seconds of [0, -5, 86_401, 1.5, "600", null]) {
      const problem = expectProblem(await call("POST", `/v1/accounts/${id}/portal-links`, { body: { ttl_seconds } }), 422);
      expect(problem.errors?.map((e) => e.path)).toEqual(["ttl_seconds"]);
    }
    expect(expectProblem(await call("POST", `/v1/accounts/${id}/portal-links`, { body: { ttl_seconds: 86_401 } }), 422).detail).toMatch(
      /at most 86400/,
    );
    // Not JSON, not an object, not JSON at all: 4xx problems, never a 5xx.
    expectProblem(await call("POST", `/v1/accounts/${id}/portal-links`, { rawBody: "{", headers: { "content-type": "application/json" } }), 400);
    expectProblem(await call("POST", `/v1/accounts/${id}/portal-links`, { body: [600] }), 422);
    expectProblem(await call("POST", `/v1/accounts/${id}/portal-links`, { rawBody: "ttl_seconds=60", headers: { "content-type": "text/plain" } }), 415);
    const unknown = expectProblem(await call("POST", `/v1/accounts/${id}/portal-links`, { body: { ttl: 60 } }), 422);
    expect(unknown.errors).toEqual([{ path: "ttl", message: "unknown field" }]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM portal_links WHERE account_id = ?").bind(id).first("n"))).toBe(0);
  });

  it("is the operator's: an account's key is a 403, no credentials a 401, an unknown account a 404", async () => {
    const { id, key } = await createAccount();
    expectProblem(await call("POST", `/v1/accounts/${id}/portal-links`, { token: key, body: {} }), 403);
    expectProblem(await call("POST", `/v1/accounts/${id}/portal-links`, { token: null, body: {} }), 401);
    expectProblem(await call("POST", `/v1/accounts/${MISSING_ACCOUNT_ID}/portal-links`, { body: {} }), 404);
    expectProblem(await call("POST", "/v1/accounts/not-an-id/portal-links", { body: {} }), 404);
    expectProblem(await call("DELETE", `/v1/accounts/${id}/portal-sessions`, { token: key }), 403);
    expectProblem(await call("DELETE", `/v1/accounts/${MISSING_ACCOUNT_ID}/portal-sessions`), 404);
  });
});

describe("a portal link in the browser", () => {
  it("signs into its own account's dashboard once: GET only looks, the POST uses it", async () => {
    const mine = await createAccount();
    const theirs = await createAccount();
    await createSubscription(mine.key, { url: "https://mine.example.com/hook" });
    await createSubscription(theirs.key, { url: "https://theirs.example.com/hook" });
    const link = await newLink(mine.id);

    // A scanner or a link preview fetching it changes nothing.
    for (let i = 0; i < 2; i++) {
      const look = await page(link.path);
      expect(look.status).toBe(200);
      expect(look.text).toContain(mine.name);
      expect(look.text).toContain(`<form method="post" action="${link.path}" data-autosubmit="true">`);
      expect(look.setCookies).toEqual([]);
    }

    const res = await page(link.path, post());
    expect(res.status, res.text).toBe(303);
    expect(res.headers.get("location")).toBe("/dashboard");
    expect(res.setCookies).toHaveLength(1);
    const [cookie] = res.setCookies;
    expect(cookie).toMatch(new RegExp(`^${PORTAL_COOKIE}=${mine.id}\\.portal\\.\\d+\\.[\\w-]{22}\\.[\\w-]+; `));
    for (const attribute of ["Path=/dashboard", "Max-Age=28800", "HttpOnly", "Secure", "SameSite=None", "Partitioned"]) {
      expect(cookie.split("; ")).toContain(attribute);
    }
    const portal = cookieValue(res.setCookies, PORTAL_COOKIE)!;

    const list = await page("/dashboard", { cookies: { portal } });
    expect(list.status).toBe(200);
    expect(signedIn(list.text)).toBe(true);
    expect(list.text).toContain(mine.name);
    expect(list.text).toContain("https://mine.example.com/hook");
    expect(list.text).not.toContain("https://theirs.example.com/hook");
    expect(list.text).not.toContain(theirs.name);

    // The second use, and any later look, is refused with a page that says why.
    for (const again of [await page(link.path, post()), await page(link.path)]) {
      expect(again.status).toBe(410);
      expect(again.headers.get("content-type")).toContain("text/html");
      expect(again.text).toContain("Link already used");
      expect(again.text).toContain("each link works once");
      expect(again.setCookies).toEqual([]);
    }
    const session = await env.DB.prepare("SELECT kind, key_id, account_id FROM dashboard_sessions WHERE account_id = ?").bind(mine.id).all();
    expect(session.results).toEqual([{ kind: "portal", key_id: null, account_id: mine.id }]);
  });

  it("opens exactly one session when the same link is redeemed many times at once", async () => {
    const { id } = await createAccount();
    const link = await newLink(id);
    const answers = await Promise.all(Array.from({ length: 6 }, () => page(link.path, post())));
    expect(answers.map((a) => a.status).sort()).toEqual([303, 410, 410, 410, 410, 410]);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM dashboard_sessions WHERE account_id = ?").bind(id).first("n")).toBe(1);
  });

  it("refuses an expired link (410), an unknown or malformed one (404), and keeps its time as asked", async () => {
    const { id } = await createAccount();
    const link = await newLink(id, { ttl_seconds: 120 });
    const stored = await env.DB.prepare("SELECT expires_at - created_at AS ttl FROM portal_links WHERE account_id = ?").bind(id).first("ttl");
    expect(stored).toBe(120_000);
    // Its time runs out (moved back in D1 rather than waited for).
    await env.DB.prepare("UPDATE portal_links SET expires_at = ? WHERE account_id = ?").bind(Date.now() - 1, id).run();
    for (const res of [await page(link.path), await page(link.path, post())]) {
      expect(res.status).toBe(410);
      expect(res.text).toContain("Link expired");
      expect(res.setCookies).toEqual([]);
    }
    for (const path of [`/dashboard/portal/${"A".repeat(43)}`, "/dashboard/portal/short", `/dashboard/portal/${link.token}x`]) {
      for (const res of [await page(path), await page(path, post())]) {
        expect(res.status, path).toBe(404);
        expect(res.text).toContain("Link not valid");
      }
    }
    expect(await env.DB.prepare("SELECT count(*) AS n FROM dashboard_sessions WHERE account_id = ?").bind(id).first("n")).toBe(0);
  });

  it("refuses a redemption another site posts, and the link still works from its own page", async () => {
    const { id } = await createAccount();
    const link = await newLink(id);
    const evil = await page(link.path, post({}, { origin: "https://evil.example", "sec-fetch-site": "cross-site" }));
    expect(evil.status).toBe(403);
    expect(evil.setCookies).toEqual([]);
    const blind = await page(link.path, post({}, { "sec-fetch-site": "cross-site" }));
    expect(blind.status).toBe(403);
    await redeem(link.path);
  });
});

describe("a portal session", () => {
  it("keeps the CSRF and origin checks of every form, and signing out ends it", async () => {
    const { id, key } = await createAccount();
    const sub = await createSubscription(key);
    const portal = await redeem((await newLink(id)).path);
    const html = (await page(`/dashboard/subscriptions/${sub.id}`, { cookies: { portal } })).text;
    const csrf = csrfIn(html);
    const off = { active: "false", back: "detail" };
    const action = `/dashboard/subscriptions/${sub.id}/active`;

    expect((await page(action, { ...post(off), cookies: { portal } })).status).toBe(403);
    expect((await page(action, { ...post({ ...off, _csrf: "forged" }), cookies: { portal } })).status).toBe(403);
    const crossSite = await page(action, {
      ...post({ ...off, _csrf: csrf }, { origin: "https://evil.example", "sec-fetch-site": "cross-site" }),
      cookies: { portal },
    });
    expect(crossSite.status).toBe(403);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.active).toBe(true);
    // A form of the page itself (same origin, as inside the iframe): accepted.
    const ok = await page(action, { ...post({ ...off, _csrf: csrf }), cookies: { portal } });
    expect(ok.status, ok.text).toBe(303);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.active).toBe(false);

    const out = await page("/dashboard/logout", { ...post({ _csrf: csrf }), cookies: { portal } });
    expect(out.status).toBe(303);
    expect(out.headers.get("location")).toBe("/dashboard/portal/signed-out");
    expect(out.setCookies).toHaveLength(1);
    expect(out.setCookies[0]).toMatch(new RegExp(`^${PORTAL_COOKIE}=; .*Max-Age=0; .*SameSite=None; Partitioned$`));
    const bye = await page("/dashboard/portal/signed-out");
    expect(bye.status).toBe(200);
    expect(bye.text).toContain("You are signed out");

    // A copy of the cookie is worth nothing now: it is told the session ended (not asked for a key).
    for (const path of ["/dashboard", `/dashboard/subscriptions/${sub.id}`, "/dashboard/login"]) {
      const replay = await page(path, { cookies: { portal } });
      expect(replay.status, path).toBe(401);
      expect(replay.text).toContain("Your session has ended");
      expect(replay.text).not.toContain('action="/dashboard/login"');
      expect(cookieValue(replay.setCookies, PORTAL_COOKIE)).toBe("");
    }
    const replayPost = await page(action, { ...post({ ...off, _csrf: csrf }), cookies: { portal } });
    expect(replayPost.status).toBe(401);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM dashboard_sessions WHERE account_id = ?").bind(id).first("n")).toBe(0);
  });

  it("has no API key behind it: revoking keys leaves it; the operator ends it, and unused links, per account", async () => {
    const mine = await createAccount();
    const theirs = await createAccount();
    const keySession = await keySignIn(mine.key);
    const portal = await redeem((await newLink(mine.id)).path);
    const unused = await newLink(mine.id);
    const theirPortal = await redeem((await newLink(theirs.id)).path);
    const theirUnused = await newLink(theirs.id);

    const [keyRow] = (await call("GET", `/v1/accounts/${mine.id}/keys`)).json.data;
    expect((await call("DELETE", `/v1/accounts/${mine.id}/keys/${keyRow.id}`)).status).toBe(204);
    expect(signedIn((await page("/dashboard", { cookies: { key: keySession } })).text)).toBe(false);
    expect(signedIn((await page("/dashboard", { cookies: { portal } })).text)).toBe(true);

    const revoked = await call("DELETE", `/v1/accounts/${mine.id}/portal-sessions`);
    expect(revoked.status, revoked.text).toBe(200);
    expect(revoked.json).toEqual({ sessions_ended: 1, links_revoked: 1 });
    const ended = await page("/dashboard", { cookies: { portal } });
    expect(ended.status).toBe(401);
    expect(ended.text).toContain("Your session has ended");
    expect((await page(unused.path)).status).toBe(404);
    expect((await page(unused.path, post())).status).toBe(404);
    // Another account's portal is untouched.
    expect(signedIn((await page("/dashboard", { cookies: { portal: theirPortal } })).text)).toBe(true);
    expect((await page(theirUnused.path)).status).toBe(200);
    expect((await call("DELETE", `/v1/accounts/${mine.id}/portal-sessions`)).json).toEqual({ sessions_ended: 0, links_revoked: 0 });
  });

  it("ends with its account: deleting the account ends portal sessions and links at once", async () => {
    const { id } = await createAccount();
    const portal = await redeem((await newLink(id)).path);
    const unused = await newLink(id);
    expect((await call("DELETE", `/v1/accounts/${id}`)).status).toBe(204);
    expect((await page("/dashboard", { cookies: { portal } })).status).toBe(401);
    expect((await page(unused.path)).status).toBe(404);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM portal_links WHERE account_id = ?").bind(id).first("n")).toBe(0);
  });

  it("is its own kind: its token in the key cookie (or a key token in its cookie) signs nobody in", async () => {
    const { id, key } = await createAccount();
    const portal = await redeem((await newLink(id)).path);
    const keyToken = await keySignIn(key);
    expect(signedIn((await page("/dashboard", { cookies: { key: portal } })).text)).toBe(false);
    expect(signedIn((await page("/dashboard", { cookies: { portal: keyToken } })).text)).toBe(false);
  });

  it("replaces the key session a browser had when a link is redeemed there, and the other way round", async () => {
    const { id, key } = await createAccount();
    const keyToken = await keySignIn(key);
    const res = await page((await newLink(id)).path, { ...post(), cookies: { key: keyToken } });
    expect(res.status).toBe(303);
    expect(cookieValue(res.setCookies, SESSION_COOKIE)).toBe("");
    expect(signedIn((await page("/dashboard", { cookies: { key: keyToken } })).text)).toBe(false);
    const portal = cookieValue(res.setCookies, PORTAL_COOKIE)!;

    const back = await page("/dashboard/login", { ...post({ key }), cookies: { portal } });
    expect(back.status).toBe(303);
    expect(cookieValue(back.setCookies, PORTAL_COOKIE)).toBe("");
    expect(back.setCookies.find((c: string) => c.startsWith(`${PORTAL_COOKIE}=`))).toContain("Partitioned");
    expect(signedIn((await page("/dashboard", { cookies: { portal } })).text)).toBe(false);
    expect(await env.DB.prepare("SELECT kind FROM dashboard_sessions WHERE account_id = ?").bind(id).all()).toMatchObject({
      results: [{ kind: "key" }],
    });
  });
});

describe("framing", () => {
  it("forbids every frame by default (CSP frame-ancestors 'none' and X-Frame-Options DENY)", async () => {
    for (const path of ["/dashboard", "/dashboard/portal/whatever"]) {
      const res = await page(path);
      expect(res.headers.get("content-security-policy")).toContain("frame-ancestors 'none';");
      expect(res.headers.get("x-frame-options")).toBe("DENY");
    }
  });

  it("lets the PORTAL_FRAME_ANCESTORS origins frame every dashboard page, through CSP alone", async () => {
    const configured = { ...env, PORTAL_FRAME_ANCESTORS: "https://app.clarife.example, http://localhost:5173/ https://*.clarife.example" };
    for (const path of ["/dashboard", "/dashboard/login", "/dashboard/portal/whatever"]) {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(BASE + path), configured, ctx);
      await waitOnExecutionContext(ctx);
      expect(res.headers.get("content-security-policy")).toContain(
        "frame-ancestors https://app.clarife.example http://localhost:5173 https://*.clarife.example;",
      );
      expect(res.headers.get("x-frame-options")).toBeNull();
    }
    // The API is no page: it never says anything about frames.
    expect((await call("GET", "/health")).headers.get("content-security-policy")).toBeNull();
  });

  it("takes origins only, so the policy cannot be widened or broken by the value", () => {
    expect(parseFrameAncestors(undefined)).toEqual([]);
    expect(parseFrameAncestors(" ")).toEqual([]);
    expect(parseFrameAncestors("https://A.example,https://a.example https://b.example:8443")).toEqual([
      "https://a.example",
      "https://b.example:8443",
    ]);
    for (const bad of ["*", "'self'", "https://a.example/path", "https://a.example; script-src *", "javascript:x", "a.example", "https://"]) {
      expect(() => parseFrameAncestors(bad), bad).toThrow(/PORTAL_FRAME_ANCESTORS/);
    }
  });
});
