/**
 * The dashboard's session and CSRF rules inside workerd: signed cookies, refused forms,
 * and a page round trip. The browser tests (test/e2e/dashboard.test.ts) cover the rest.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sameOrigin } from "../../src/core/same-origin";
import {
  csrfToken,
  issueSession,
  SESSION_COOKIE,
  sessionCookie,
  verifyCsrf,
  verifySession,
} from "../../src/dashboard/session";
import { ADMIN, BASE, call, createAccount, createSubscription } from "./harness";

const KEY = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";
const OTHER_KEY = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
const ACCT = "acct_0b7c0ad6-3c39-4a35-8d1f-6f1f2a1e4c2b";
const KEY_ID = "key_9ef36743-0b7c-4a35-8d1f-6f1f2a1e4c2b";

async function page(path: string, init: RequestInit & { cookie?: string } = {}) {
  const headers = new Headers(init.headers);
  if (init.cookie) headers.set("cookie", `${SESSION_COOKIE}=${init.cookie}`);
  const res = await exports.default.fetch(new Request(BASE + path, { ...init, headers, redirect: "manual" }));
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const form = (fields: Record<string, string | string[]>) => {
  const body = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of [v].flat()) body.append(k, one);
  return { method: "POST", body, headers: { "content-type": "application/x-www-form-urlencoded" } };
};

async function signIn(key: string, name?: string) {
  const res = await page("/dashboard/login", form(name ? { name, key } : { key }));
  expect(res.status, res.text).toBe(303);
  const cookie = res.headers.get("set-cookie") ?? "";
  const token = cookie.match(new RegExp(`${SESSION_COOKIE}=([^;]*)`))![1];
  return { token, cookie };
}

const signSession = async (...args: Parameters<typeof issueSession>) => (await issueSession(...args)).token;
const csrfIn = (html: string) => html.match(/name="_csrf" value="([^"]+)"/)![1];
const keyError = (html: string) => html.match(/<p class="field-error" id="key-error">([^<]*)<\/p>/)?.[1];
const fromClient = (ip: string, init: ReturnType<typeof form>) => ({ ...init, headers: { ...init.headers, "cf-connecting-ip": ip } });
const UTC_TIME = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/;

describe("session tokens", () => {
  it("verifies its own tokens and refuses tampered, expired or foreign ones", async () => {
    const token = await signSession(KEY, ACCT, KEY_ID);
    expect(await verifySession(KEY, token)).toMatchObject({ accountId: ACCT, keyId: KEY_ID });
    expect(await verifySession(OTHER_KEY, token)).toBeNull();
    const parts = token.split(".");
    const otherAccount = [ACCT.replace("0b7c", "0b7d"), ...parts.slice(1)].join(".");
    expect(await verifySession(KEY, otherAccount)).toBeNull();
    const longer = [parts[0], parts[1], String(Number(parts[2]) + 3600), ...parts.slice(3)].join(".");
    expect(await verifySession(KEY, longer)).toBeNull();
    expect(await verifySession(KEY, token, Date.now() + 8 * 3600 * 1000 + 1000)).toBeNull();
    expect(await verifySession(KEY, "")).toBeNull();
    expect(await verifySession(KEY, "a.b.c.d.e")).toBeNull();
  });

  it("derives a CSRF token per session and compares it exactly", async () => {
    const a = await signSession(KEY, ACCT, KEY_ID);
    const b = await signSession(KEY, ACCT, KEY_ID);
    const csrf = await csrfToken(KEY, a);
    expect(csrf).not.toBe(await csrfToken(KEY, b));
    expect(await verifyCsrf(KEY, a, csrf)).toBe(true);
    expect(await verifyCsrf(KEY, b, csrf)).toBe(false);
    expect(await verifyCsrf(KEY, a, csrf.slice(0, -1) + (csrf.endsWith("A") ? "B" : "A"))).toBe(false);
    expect(await verifyCsrf(KEY, a, undefined)).toBe(false);
    expect(await verifyCsrf(KEY, a, "")).toBe(false);
  });

  it("sets Secure except on localhost, and checks the origin of form posts", () => {
    expect(sessionCookie("t", "https://hooks.example.com/dashboard/login")).toContain("; Secure");
    const local = sessionCookie("t", "http://127.0.0.1:8787/dashboard/login");
    expect(local).not.toContain("Secure");
    expect(local).toContain("HttpOnly");
    expect(local).toContain("SameSite=Strict");
    expect(local).toContain("Path=/dashboard");
    const url = "https://hooks.example.com/dashboard/x";
    expect(sameOrigin(url, new Headers())).toBe(true);
    expect(sameOrigin(url, new Headers({ origin: "https://hooks.example.com", "sec-fetch-site": "same-origin" }))).toBe(true);
    expect(sameOrigin(url, new Headers({ origin: "https://evil.example" }))).toBe(false);
    expect(sameOrigin(url, new Headers({ origin: "null" }))).toBe(false);
    expect(sameOrigin(url, new Headers({ "sec-fetch-site": "cross-site" }))).toBe(false);
  });
});

describe("dashboard routes", () => {
  it("serves the sign-in page, then the list, in one HTML answer each", async () => {
    const res = await page("/dashboard");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
    expect(res.headers.get("cache-control")).toBe("no-store");
    expect(res.text).toContain('action="/dashboard/login"');

    const { id, name, key } = await createAccount();
    const wrong = await page("/dashboard/login", form({ key: key.slice(0, -2) + "xx" }));
    expect(wrong.status).toBe(401);
    expect(wrong.text).toContain("The API key is not valid");
    expect((await page("/dashboard/login", form({ name: "someone-else", key }))).status).toBe(401);
    // The operator token is just another wrong key here: the page never confirms it.
    const operator = await page("/dashboard/login", form({ key: ADMIN }));
    expect(operator.status).toBe(401);
    expect(operator.text).not.toMatch(/operator/i);
    expect(keyError(operator.text)).toBe(keyError(wrong.text));

    const { token, cookie } = await signIn(key, name);
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/dashboard/);
    expect(cookie).toMatch(/Secure/); // http://hookline.test is not localhost
    expect(cookie).not.toContain(key);
    expect(token.startsWith(`${id}.`)).toBe(true);

    const list = await page("/dashboard", { cookie: token });
    expect(list.status).toBe(200);
    expect(list.text).toContain(name);
    expect(list.text).toContain("0 of 3");
    expect(list.text).not.toContain(key);
  });

  it("refuses a form without the session, with a forged CSRF token, or from another origin", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const { token } = await signIn(key);
    const html = (await page(`/dashboard/subscriptions/${sub.id}`, { cookie: token })).text;
    const csrf = csrfIn(html);
    const off = { active: "false", back: "detail" };

    expect((await page(`/dashboard/subscriptions/${sub.id}/active`, form({ ...off, _csrf: csrf }))).status).toBe(401);
    expect((await page(`/dashboard/subscriptions/${sub.id}/active`, { ...form(off), cookie: token })).status).toBe(403);
    const forged = await page(`/dashboard/subscriptions/${sub.id}/active`, { ...form({ ...off, _csrf: "forged" }), cookie: token });
    expect(forged.status).toBe(403);
    const other = await signIn((await createAccount()).key);
    const othersCsrf = csrfIn((await page("/dashboard", { cookie: other.token })).text);
    expect((await page(`/dashboard/subscriptions/${sub.id}/active`, { ...form({ ...off, _csrf: othersCsrf }), cookie: token })).status).toBe(403);
    const crossSite = form({ ...off, _csrf: csrf });
    const fromElsewhere = await page(`/dashboard/subscriptions/${sub.id}/active`, {
      ...crossSite,
      headers: { ...crossSite.headers, origin: "https://evil.example" },
      cookie: token,
    });
    expect(fromElsewhere.status).toBe(403);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.active).toBe(true);

    const ok = await page(`/dashboard/subscriptions/${sub.id}/active`, { ...form({ ...off, _csrf: csrf }), cookie: token });
    expect(ok.status).toBe(303);
    expect(ok.headers.get("location")).toBe(`/dashboard/subscriptions/${sub.id}?notice=disabled`);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.active).toBe(false);

    // Another account's subscription is as missing as a missing one.
    const theirs = await page(`/dashboard/subscriptions/${sub.id}/active`, { ...form({ ...off, _csrf: othersCsrf }), cookie: other.token });
    expect(theirs.status).toBe(404);
  });

  it("creates through the service and shows its problems next to the fields", async () => {
    const { key } = await createAccount();
    const { token } = await signIn(key);
    const csrf = csrfIn((await page("/dashboard/subscriptions/new", { cookie: token })).text);
    const bad = await page("/dashboard/subscriptions", {
      ...form({ _csrf: csrf, url: "ftp://example.com/hook", format: "standard" }),
      cookie: token,
    });
    expect(bad.status).toBe(422);
    expect(bad.text).toContain('id="event_types-error"');
    const scheme = await page("/dashboard/subscriptions", {
      ...form({ _csrf: csrf, url: "http://example.com/hook", event_types: ["document.*", "share.created"], format: "standard" }),
      cookie: token,
    });
    expect(scheme.status).toBe(422);
    expect(scheme.text).toMatch(/<p class="field-error" id="url-error">[^<]*https/);
    expect(scheme.text).toContain('value="http://example.com/hook"');
    const good = await page("/dashboard/subscriptions", {
      ...form({ _csrf: csrf, url: "https://example.com/hook", event_types: ["document.*", "share.created"], format: "standard", subjects: "doc_1, doc_2" }),
      cookie: token,
    });
    expect(good.status, good.text).toBe(303);
    const id = good.headers.get("location")!.match(/subscriptions\/(sub_[^?]+)/)![1];
    const sub = (await call("GET", `/v1/subscriptions/${id}`, { token: key })).json;
    expect(sub).toMatchObject({ event_types: ["document.*", "share.created"], subjects: ["doc_1", "doc_2"], format: "standard" });
  });

  it("sets, shows, refuses and clears a rate limit (throttle_rate)", async () => {
    const { key } = await createAccount();
    const { token } = await signIn(key);
    const csrf = csrfIn((await page("/dashboard/subscriptions/new", { cookie: token })).text);
    const fields = { _csrf: csrf, url: "https://example.com/hook", event_types: ["document.*"], format: "standard" };
    for (const bad of ["0", "10001", "2.5", "ten"]) {
      const refused = await page("/dashboard/subscriptions", { ...form({ ...fields, throttle_rate: bad }), cookie: token });
      expect(refused.status, bad).toBe(422);
      expect(refused.text).toContain(
        '<p class="field-error" id="throttle_rate-error">enter a whole number of deliveries a second from 1 to 10000, or leave it empty for no limit</p>',
      );
      expect(refused.text).toContain(`value="${bad}"`);
    }
    expect((await call("GET", "/v1/subscriptions", { token: key })).json.data).toEqual([]);
    const good = await page("/dashboard/subscriptions", { ...form({ ...fields, throttle_rate: "25" }), cookie: token });
    expect(good.status, good.text).toBe(303);
    const id = good.headers.get("location")!.match(/subscriptions\/(sub_[^?]+)/)![1];
    expect((await call("GET", `/v1/subscriptions/${id}`, { token: key })).json.throttle_rate).toBe(25);
    expect((await page(`/dashboard/subscriptions/${id}`, { cookie: token })).text).toContain('<dd id="sub-throttle">25 a second</dd>');
    const edit = (await page(`/dashboard/subscriptions/${id}/edit`, { cookie: token })).text;
    expect(edit).toMatch(/name="throttle_rate"[^>]*value="25"/);
    const cleared = await page(`/dashboard/subscriptions/${id}`, { ...form({ ...fields, _csrf: csrfIn(edit), throttle_rate: "" }), cookie: token });
    expect(cleared.status, cleared.text).toBe(303);
    expect((await call("GET", `/v1/subscriptions/${id}`, { token: key })).json.throttle_rate).toBeNull();
    expect((await page(`/dashboard/subscriptions/${id}`, { cookie: token })).text).toContain('<dd id="sub-throttle">none</dd>');
  });

  it("ends the session when its API key is revoked", async () => {
    const { id, key } = await createAccount();
    const { token } = await signIn(key);
    expect((await page("/dashboard", { cookie: token })).text).toContain("Sign out");
    const keys = (await call("GET", `/v1/accounts/${id}/keys`)).json.data;
    expect((await call("DELETE", `/v1/accounts/${id}/keys/${keys[0].id}`)).status).toBe(204);
    const after = await page("/dashboard", { cookie: token });
    expect(after.text).not.toContain("Sign out");
    expect(after.text).toContain('action="/dashboard/login"');
  });

  it("asks before deleting when the script did not, and returns to the page asked for after sign-in", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const path = `/dashboard/subscriptions/${sub.id}?status=failed`;
    const asked = await page(path);
    expect(asked.status).toBe(401);
    expect(asked.text).toContain(`name="next" value="/dashboard/subscriptions/${sub.id}?status=failed"`);
    const login = await page("/dashboard/login", form({ key, next: path }));
    expect(login.headers.get("location")).toBe(path);
    const offsite = await page("/dashboard/login", form({ key, next: "//evil.example/dashboard" }));
    expect(offsite.headers.get("location")).toBe("/dashboard");

    const { token } = await signIn(key);
    const csrf = csrfIn((await page("/dashboard", { cookie: token })).text);
    const confirm = await page(`/dashboard/subscriptions/${sub.id}/delete`, { ...form({ _csrf: csrf, confirmed: "" }), cookie: token });
    expect(confirm.status).toBe(200);
    expect(confirm.text).toContain("Delete this webhook?");
    expect(confirm.text).toContain('name="confirmed" value="1"');
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).status).toBe(200);
    const done = await page(`/dashboard/subscriptions/${sub.id}/delete`, { ...form({ _csrf: csrf, confirmed: "1" }), cookie: token });
    expect(done.headers.get("location")).toBe("/dashboard?notice=deleted");
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).status).toBe(404);

    expect((await page("/dashboard/", { cookie: token })).headers.get("location")).toBe("/dashboard");
    const missing = await page("/dashboard/nothing-here", { cookie: token });
    expect(missing.status).toBe(404);
    expect(missing.headers.get("content-type")).toContain("text/html");
  });

  it("signing out ends the session on the server: a copied cookie stops working", async () => {
    const { id, key } = await createAccount();
    const here = await signIn(key);
    const elsewhere = await signIn(key);
    const csrf = csrfIn((await page("/dashboard", { cookie: here.token })).text);
    const out = await page("/dashboard/logout", { ...form({ _csrf: csrf }), cookie: here.token });
    expect(out.status).toBe(303);
    expect(out.headers.get("set-cookie")).toContain("Max-Age=0");

    const copied = await page("/dashboard", { cookie: here.token });
    expect(copied.text).not.toContain("Sign out");
    expect(copied.text).toContain('action="/dashboard/login"');
    expect((await page("/dashboard/subscriptions/new", { cookie: here.token })).status).toBe(401);
    const post = await page("/dashboard/subscriptions", { ...form({ _csrf: csrf, url: "https://example.com/x" }), cookie: here.token });
    expect(post.status).toBe(401);
    // The session signed in from another browser goes on.
    expect((await page("/dashboard", { cookie: elsewhere.token })).text).toContain("Sign out");

    // A well-signed token the server never issued is no session either.
    const keys = (await call("GET", `/v1/accounts/${id}/keys`)).json.data;
    const minted = await signSession(KEY, id, keys[0].id);
    expect((await page("/dashboard", { cookie: minted })).text).not.toContain("Sign out");
  });

  it("throttles failed sign-ins per key prefix and per client, answering 429 with Retry-After", async () => {
    const target = await createAccount();
    // Ten wrong keys sharing the real key's prefix, from ten clients: then even the right key waits.
    for (let i = 0; i < 10; i++) {
      const res = await page("/dashboard/login", fromClient(`198.51.100.${i}`, form({ key: `${target.key.slice(0, 10)}wrong${i}` })));
      expect(res.status).toBe(401);
    }
    const held = await page("/dashboard/login", fromClient("198.51.100.50", form({ key: target.key })));
    expect(held.status).toBe(429);
    const wait = Number(held.headers.get("retry-after"));
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(15 * 60);
    expect(keyError(held.text)).toMatch(/Too many failed sign-ins/);
    expect(held.headers.get("set-cookie")).toBeNull();

    // Signing in successfully costs nothing: eleven in a row from one client.
    const other = await createAccount();
    for (let i = 0; i < 11; i++) {
      expect((await page("/dashboard/login", fromClient("198.51.100.60", form({ key: other.key })))).status).toBe(303);
    }

    // Thirty failures from one client, each with another prefix: that client waits, another does not.
    for (let i = 0; i < 30; i++) {
      const res = await page("/dashboard/login", fromClient("203.0.113.7", form({ key: `hl_${crypto.randomUUID()}` })));
      expect(res.status).toBe(401);
    }
    const client = await page("/dashboard/login", fromClient("203.0.113.7", form({ key: other.key })));
    expect(client.status).toBe(429);
    expect(Number(client.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await page("/dashboard/login", fromClient("203.0.113.8", form({ key: other.key })))).status).toBe(303);
  });

  it("shows every time as ISO 8601 UTC, and the recover field is text the server parses", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const { token } = await signIn(key);
    const html = (await page(`/dashboard/subscriptions/${sub.id}`, { cookie: token })).text;
    const times = [...html.matchAll(/<time[^>]*>([^<]*)<\/time>/g)].map((m) => m[1]);
    expect(times.length).toBeGreaterThan(0);
    for (const t of times) expect(t).toMatch(UTC_TIME);
    const input = html.match(/<input[^>]*id="f-since"[^>]*>/)![0];
    expect(input).toContain('type="text"');
    const since = input.match(/value="([^"]*)"/)![1];
    expect(since).toMatch(UTC_TIME);

    const csrf = csrfIn(html);
    const recover = (value: string) => page(`/dashboard/subscriptions/${sub.id}/recover`, { ...form({ _csrf: csrf, since: value }), cookie: token });
    const ok = await recover(since);
    expect(ok.status, ok.text).toBe(303);
    expect(ok.headers.get("location")).toContain("notice=recovered");
    const us = await recover("11/30/2026, 08:47:56 AM");
    expect(us.status).toBe(422);
    expect(us.text).toContain('id="since-error"');
    expect(us.text).toMatch(/UTC/);
    expect(us.text).toContain('value="11/30/2026, 08:47:56 AM"');
  });

  it("speaks of compatibility formats, not of seed systems", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const { token } = await signIn(key);
    const form = (await page("/dashboard/subscriptions/new", { cookie: token })).text;
    expect(form).toContain("compatibility format");
    const detail = (await page(`/dashboard/subscriptions/${sub.id}`, { cookie: token })).text;
    for (const html of [form, detail]) expect(html).not.toMatch(/seed (system|format)/i);
  });
});
