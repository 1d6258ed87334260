/// <reference types="node" />
/**
 * Portal links in a real headless Chromium (Debian's `chromium` through playwright-core),
 * against the real service through the launcher: another site's page (a tiny Node server on
 * http://localhost:<port>) frames a link on http://127.0.0.1:<service port>. The link signs the
 * frame into the right account once; the second use is refused; a parent origin that
 * PORTAL_FRAME_ANCESTORS does not list is refused by CSP frame-ancestors. Screenshots land in
 * test-artifacts/portal/.
 */
import { mkdirSync, existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type FrameLocator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHooklineClient, type HooklineClient, unwrap } from "../../src/client";
import { type Service, startService } from "./service";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join("test-artifacts", "portal");

let service: Service;
/** The platform's server side: the typed client with the operator token. */
let operator: HooklineClient;
let browser: Browser;
let context: BrowserContext;
/** The platform's page, allowed to frame the dashboard, and another that is not. */
let listed: { server: Server; origin: string };
let unlisted: { server: Server; origin: string };
let mine: { id: string; name: string; key: string; subId: string };
let theirs: { id: string; name: string; key: string };
/** Console errors of every page but the CSP refusals a test waits for. */
const pageErrors: string[] = [];

const escape = (s: string) => s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");

/** A page of another site: "Settings > Webhooks" of the platform, with the dashboard framed in it. */
async function parentSite(): Promise<{ server: Server; origin: string }> {
  const server = createServer((req, res) => {
    const src = new URL(req.url ?? "/", "http://localhost").searchParams.get("src") ?? "about:blank";
    res.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    res.end(
      `<!doctype html><title>clarife · Settings</title><h1>clarife settings: webhooks</h1>` +
        `<iframe id="portal" title="Webhooks" src="${escape(src)}" width="1100" height="760"></iframe>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, origin: `http://localhost:${(server.address() as AddressInfo).port}` };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  [listed, unlisted] = await Promise.all([parentSite(), parentSite()]);
  [service, browser] = await Promise.all([
    startService({ PORTAL_FRAME_ANCESTORS: `https://app.clarife.example, ${listed.origin}` }),
    chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    }),
  ]);
  const create = async (name: string) => {
    const res = await service.api("POST", "/v1/accounts", { body: { name } });
    expect(res.status, res.text).toBe(201);
    return { id: res.json.id as string, name, key: res.json.api_key.key as string };
  };
  const subscribe = async (key: string, url: string) => {
    const res = await service.api("POST", "/v1/subscriptions", { token: key, body: { url, event_types: ["document.*"] } });
    expect(res.status, res.text).toBe(201);
    return res.json.id as string;
  };
  const [a, b] = await Promise.all([create("acme-workspace"), create("globex-workspace")]);
  mine = { ...a, subId: await subscribe(a.key, "http://127.0.0.1:9/acme-hook") };
  theirs = b;
  await subscribe(b.key, "http://127.0.0.1:9/globex-hook");
  operator = createHooklineClient({ url: service.url, apiKey: service.adminToken });
  context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  // Every step waits for what the page shows; this only caps a wait (Chromium and wrangler share the machine).
  context.setDefaultTimeout(30_000);
});

afterAll(async () => {
  await browser?.close();
  await service?.stop();
  for (const site of [listed, unlisted]) site?.server.close();
});

function watch(p: Page, expectedRefusals: string[] = []) {
  p.on("console", (m) => {
    if (m.type() !== "error") return;
    if (/frame-ancestors/.test(m.text())) expectedRefusals.push(m.text());
    else if (!/the server responded with a status of 4\d\d/.test(m.text())) pageErrors.push(`${p.url()}: ${m.text()}`);
  });
  p.on("pageerror", (e) => pageErrors.push(`${p.url()}: ${e.message}`));
}

/** The one server call a platform makes to show the page. */
async function newLink(accountId: string) {
  const link = await unwrap(operator.POST("/v1/accounts/{id}/portal-links", { params: { path: { id: accountId } }, body: { ttl_seconds: 600 } }));
  expect(link.url.startsWith(`${service.url}/dashboard/portal/`)).toBe(true);
  expect(Date.parse(link.expires_at) - Date.now()).toBeLessThanOrEqual(600_000);
  return link.url;
}

/** The platform's page with `src` framed, opened in a new tab. */
async function framed(site: { origin: string }, src: string, refusals?: string[], browserContext = context) {
  const page = await browserContext.newPage();
  watch(page, refusals);
  await page.goto(`${site.origin}/?src=${encodeURIComponent(src)}`);
  await page.getByRole("heading", { name: "clarife settings: webhooks" }).waitFor();
  return { page, frame: page.frameLocator("#portal") };
}

async function until(what: string, probe: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Chromium shows its own error page in place of a frame that CSP refused: none of the service's page. */
async function refusedFrame(page: Page) {
  const child = page.frames()[1];
  await until("the frame's error page", () => child.url().startsWith("chrome-error://"));
  expect(await child.content()).not.toContain("Hookline");
}

const text = async (frame: FrameLocator, selector: string) => ((await frame.locator(selector).first().textContent()) ?? "").replace(/\s+/g, " ").trim();

const shot = (name: string, p: Page) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

describe("a portal link inside another site's iframe", () => {
  let link = "";
  let page: Page;
  let frame: FrameLocator;

  it("signs the frame into the right account's dashboard, with a partitioned cookie and no API key", async () => {
    link = await newLink(mine.id);
    ({ page, frame } = await framed(listed, link));
    await frame.getByRole("heading", { name: "Webhooks" }).waitFor();
    expect(await text(frame, "header.top")).toContain(`${mine.name} · Pro plan`);
    expect(await frame.getByRole("link", { name: "http://127.0.0.1:9/acme-hook" }).count()).toBe(1);
    const framedHtml = await frame.locator("html").innerHTML();
    expect(framedHtml).not.toContain("globex");
    expect(framedHtml).not.toContain(theirs.name);
    // The platform's page stays on top; the service's page is only in the frame.
    expect(page.url().startsWith(listed.origin)).toBe(true);
    expect(page.frames().map((f) => new URL(f.url()).origin)).toEqual([listed.origin, service.url]);

    const cookies = await context.cookies(`${service.url}/dashboard`);
    expect(cookies.map((c) => c.name)).toEqual(["hookline_portal"]);
    expect(cookies[0]).toMatchObject({ path: "/dashboard", httpOnly: true, secure: true, sameSite: "None", partitionKey: "http://localhost" });
    expect(cookies[0].value.startsWith(`${mine.id}.portal.`)).toBe(true);
    expect(cookies[0].value).not.toContain(mine.key);
    await shot("01-framed-dashboard", page);
  });

  it("works inside the frame: its forms post to their own origin with the CSRF token", async () => {
    await frame.getByRole("link", { name: "http://127.0.0.1:9/acme-hook" }).click();
    await frame.getByRole("heading", { name: "http://127.0.0.1:9/acme-hook" }).waitFor();
    await frame.getByRole("button", { name: /^Switch off/ }).click();
    await frame.getByText("Webhook switched off").waitFor();
    const sub = await service.api("GET", `/v1/subscriptions/${mine.subId}`, { token: mine.key });
    expect(sub.json.active).toBe(false);
    await frame.getByRole("button", { name: /^Switch on/ }).click();
    await frame.getByText("Webhook switched on.").waitFor();
    expect((await service.api("GET", `/v1/subscriptions/${mine.subId}`, { token: mine.key })).json.active).toBe(true);
    await shot("02-framed-detail", page);
  });

  it("refuses the same link the second time, with a page that says so", async () => {
    const second = await context.newPage();
    watch(second);
    const answered = second.waitForResponse((r) => r.url() === link);
    await second.goto(`${listed.origin}/?src=${encodeURIComponent(link)}`);
    expect((await answered).status()).toBe(410);
    const again = second.frameLocator("#portal");
    await again.getByRole("heading", { name: "Link already used" }).waitFor();
    expect(await text(again, "#portal-message")).toContain("each link works once");
    await shot("03-link-used", second);
    await second.close();
  });

  it("is refused by frame-ancestors on a parent origin not listed, and the link is not used up", async () => {
    // A browser of its own, so that the first tab's session stays as it is.
    const own = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    own.setDefaultTimeout(30_000);
    try {
      const fresh = await newLink(mine.id);
      const refusals: string[] = [];
      const other = await framed(unlisted, fresh, refusals, own);
      await until("the frame refused", () => refusals.length > 0);
      expect(refusals[0]).toContain(`frame-ancestors https://app.clarife.example ${listed.origin}`);
      await refusedFrame(other.page);
      await shot("04-unlisted-parent", other.page);

      // The refused frame never posted: the link still opens the dashboard where it may.
      const allowed = await framed(listed, fresh, undefined, own);
      await allowed.frame.getByRole("heading", { name: "Webhooks" }).waitFor();

      // Signed in now, the dashboard itself is refused there too, though its cookie is sent
      // (the partition is the site, http://localhost, whatever the port).
      const dashboardRefusals: string[] = [];
      const sent = new Promise<string>((resolve) =>
        own.on("request", (r) => void (r.url() === `${service.url}/dashboard` && r.allHeaders().then((h) => resolve(h.cookie ?? "")))),
      );
      const dash = await framed(unlisted, `${service.url}/dashboard`, dashboardRefusals, own);
      expect(await sent).toMatch(/^hookline_portal=acct_/);
      await until("the frame refused", () => dashboardRefusals.length > 0);
      await refusedFrame(dash.page);
    } finally {
      await own.close();
    }
  });

  it("works the same opened in a tab of its own", async () => {
    const own = await browser.newContext();
    own.setDefaultTimeout(30_000);
    try {
      const tab = await own.newPage();
      watch(tab);
      await tab.goto(await newLink(theirs.id));
      await tab.getByRole("heading", { name: "Webhooks" }).waitFor();
      expect(tab.url()).toBe(`${service.url}/dashboard`);
      expect(((await tab.locator("header.top").textContent()) ?? "").replace(/\s+/g, " ")).toContain(`${theirs.name} · Pro plan`);
      expect(await tab.getByRole("link", { name: "http://127.0.0.1:9/globex-hook" }).count()).toBe(1);
      const [cookie] = await own.cookies(`${service.url}/dashboard`);
      expect(cookie).toMatchObject({ name: "hookline_portal", sameSite: "None", secure: true });
    } finally {
      await own.close();
    }
  });

  it("signs out inside the frame, and a revoked session is told it ended", async () => {
    await frame.getByRole("button", { name: "Sign out" }).click();
    await frame.getByRole("heading", { name: "Signed out" }).waitFor();
    expect(await text(frame, "#portal-message")).toContain("You are signed out");
    expect(await context.cookies(`${service.url}/dashboard`)).toEqual([]);
    await shot("05-signed-out", page);

    await page.goto(`${listed.origin}/?src=${encodeURIComponent(await newLink(mine.id))}`);
    await frame.getByRole("heading", { name: "Webhooks" }).waitFor();
    const revoked = await unwrap(operator.DELETE("/v1/accounts/{id}/portal-sessions", { params: { path: { id: mine.id } } }));
    // This frame's session and the one the previous test opened in a browser of its own.
    expect(revoked).toEqual({ sessions_ended: 2, links_revoked: 0 });
    // The platform shows its webhooks page again: the frame is told the session ended, not asked for a key.
    await page.goto(`${listed.origin}/?src=${encodeURIComponent(`${service.url}/dashboard`)}`);
    await frame.getByRole("heading", { name: "Session ended" }).waitFor();
    await shot("06-session-ended", page);
    expect(await frame.getByRole("button", { name: "Sign in" }).count()).toBe(0);
    expect(pageErrors).toEqual([]);
  });
});
