/// <reference types="node" />
/**
 * The dashboard in a real headless Chromium (Debian's `chromium` package driven by
 * playwright-core), against the real service through the launcher and a real receiver
 * on 127.0.0.1. Each page is saved as a screenshot under test-artifacts/dashboard/
 * (UPDATE_README_SCREENSHOT=1 also refreshes test/e2e/screenshots/dashboard.png).
 */
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answer, type Receiver, startReceiver } from "./receiver";
import { type Service, startService } from "./service";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const ARTIFACTS = join("test-artifacts", "dashboard");
const README_SHOT = join("test", "e2e", "screenshots", "dashboard.png");

let service: Service;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let receiver: Receiver;
let account: { id: string; name: string; key: string };
/** What the receiver answers: 200, or 503 while the endpoint is "down". */
let receiverUp = true;
let subId = "";
/** Console errors and uncaught exceptions of every page (a CSP violation shows up here). */
const pageErrors: string[] = [];
let secret = "";

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  mkdirSync(ARTIFACTS, { recursive: true });
  // Retries at once, so ten failed attempts take seconds; deactivation stays at the real 10.
  [service, receiver, browser] = await Promise.all([
    startService({ RETRY_SCHEDULE: "0,0,0", DELIVERY_TIMEOUT_MS: "3000" }),
    startReceiver((_req, _n, res) => (receiverUp ? answer(res, 200, { ok: true, received: true }) : answer(res, 503, { error: "down for maintenance" }))),
    chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    }),
  ]);
  const res = await service.api("POST", "/v1/accounts", { body: { name: "clarife-team", email: "dev@clarife.example" } });
  expect(res.status, res.text).toBe(201);
  account = { id: res.json.id, name: res.json.name, key: res.json.api_key.key };
  context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: service.url });
  // Every step waits for what the page shows; this only caps a wait, and Chromium and wrangler share the machine.
  context.setDefaultTimeout(30_000);
  context.on("page", watch);
  page = await context.newPage();
});

afterAll(async () => {
  await browser?.close();
  await receiver?.close();
  await service?.stop();
});

function watch(p: Page) {
  p.on("console", (m) => {
    // Refused or invalid forms answer 4xx pages on purpose; a script error or a CSP violation is a real error.
    if (m.type() === "error" && !/the server responded with a status of 4\d\d/.test(m.text())) pageErrors.push(`${p.url()}: ${m.text()}`);
  });
  p.on("pageerror", (e) => pageErrors.push(`${p.url()}: ${e.message}`));
}

const shot = (name: string, p: Page = page) => p.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

const text = async (selector: string) => ((await page.locator(selector).first().textContent()) ?? "").replace(/\s+/g, " ").trim();

async function emit(type = "document.updated", data: unknown = { id: "doc_42", title: "Q3 plan" }) {
  const res = await service.api("POST", "/v1/events", { body: { account_id: account.id, type, subject: "doc_42", data } });
  expect(res.status, res.text).toBe(202);
  return res.json.data[0].id as string;
}

async function subscription(id = subId) {
  return (await service.api("GET", `/v1/subscriptions/${id}`, { token: account.key })).json;
}

async function until<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** No part of the page is wider than a 375 px phone. */
async function fitsWidth(p: Page) {
  return p.evaluate<boolean>("document.documentElement.scrollWidth <= window.innerWidth");
}

describe("the dashboard in a real browser", () => {
  it("signs in with an API key, in a session cookie that never holds the key", async () => {
    await page.goto(`${service.url}/dashboard`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    // Keyboard: the skip link, the home link, then the name, the key and the button, in that order.
    const order: string[] = [];
    for (let i = 0; i < 5; i++) {
      await page.keyboard.press("Tab");
      order.push(await page.evaluate<string>('document.activeElement.id || document.activeElement.textContent.trim()'));
    }
    expect(order).toEqual(["Skip to content", "Hookline", "f-name", "f-key", "Sign in"]);
    await shot("01-sign-in");

    await page.getByLabel("API key").fill("hl_not-a-real-key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.locator("#key-error").waitFor();
    expect(await text("#key-error")).toContain("not valid");
    expect(await page.getByLabel("API key").getAttribute("aria-invalid")).toBe("true");
    await shot("02-sign-in-error");

    await page.getByLabel("Account name").fill(account.name);
    await page.getByLabel("API key").fill(account.key);
    await page.getByLabel("API key").press("Enter");
    await page.getByRole("heading", { name: "Webhooks" }).waitFor();
    expect(await text("#usage")).toBe("0 of 3 subscriptions on Pro");

    const [cookie] = await context.cookies(`${service.url}/dashboard`);
    expect(cookie).toMatchObject({ name: "hookline_session", path: "/dashboard", httpOnly: true, sameSite: "Strict", secure: false });
    expect(cookie.value).not.toContain(account.key);
    expect(cookie.expires * 1000).toBeLessThanOrEqual(Date.now() + 8 * 3600 * 1000 + 60_000);
    expect(await page.content()).not.toContain(account.key);
    expect(await page.evaluate("[localStorage.length, sessionStorage.length, document.cookie]")).toEqual([0, 0, ""]);
    await shot("03-empty-list");
  });

  it("creates a subscription to a local receiver, showing the problems next to their fields first", async () => {
    await page.getByRole("link", { name: "Add webhook" }).click();
    await page.getByRole("heading", { name: "Add webhook" }).waitFor();
    await shot("04-create-form");

    // Nothing picked: the events field says so. Then a url the service refuses: the url field says why.
    await page.getByLabel("Endpoint URL").fill("ftp://127.0.0.1/hook");
    await page.getByRole("button", { name: "Add webhook" }).click();
    await page.locator("#event_types-error").waitFor();
    expect(await text("#event_types-error")).toContain("pick at least one event");
    await page.locator("details.group summary", { hasText: "document" }).click();
    await page.getByRole("checkbox", { name: "Every document event document.*" }).check();
    await page.getByRole("button", { name: "Add webhook" }).click();
    await page.locator("#url-error").waitFor();
    expect(await text("#url-error")).toMatch(/scheme|http/);
    expect(await page.getByLabel("Endpoint URL").getAttribute("aria-invalid")).toBe("true");
    expect(await page.getByRole("checkbox", { name: "Every document event document.*" }).isChecked()).toBe(true);
    await shot("05-create-errors");

    await page.getByLabel("Endpoint URL").fill(`${receiver.url}/webhooks`);
    await page.locator("details.group summary", { hasText: "share" }).click();
    await page.getByRole("checkbox", { name: "share.created" }).check();
    await page.getByLabel("Description (optional)").fill("clarife sync worker");
    await page.getByRole("button", { name: "Add webhook" }).click();
    await page.getByRole("heading", { name: `${receiver.url}/webhooks` }).waitFor();
    subId = page.url().match(/subscriptions\/(sub_[^?]+)/)![1];
    expect(await text("[role=status]")).toContain("Webhook added");
    expect(await subscription()).toMatchObject({ event_types: ["document.*", "share.created"], description: "clarife sync worker", active: true });
  });

  it("copies the signing secret from the page, and a real delivery verifies with it", async () => {
    await page.getByRole("button", { name: "Copy secret" }).click();
    await page.getByText("Copied to the clipboard.").waitFor();
    secret = await page.evaluate<string>("navigator.clipboard.readText()");
    expect(secret).toMatch(/^whsec_/);
    await shot("06-subscription-created");

    await emit();
    const [req] = await receiver.waitFor(1);
    const payload = new Webhook(secret).verify(req.body, req.headers) as { type: string; data: unknown };
    expect(payload).toMatchObject({ type: "document.updated", data: { id: "doc_42", title: "Q3 plan" } });
  });

  it("sends a test event and shows its status code, duration and response", async () => {
    const before = receiver.requests.length;
    await page.getByRole("button", { name: "Send test event" }).click();
    await page.locator("#test-result").waitFor();
    const [, test] = await receiver.waitFor(before + 1);
    expect(JSON.parse(test.body).type).toBe("document.created");
    new Webhook(secret).verify(test.body, test.headers);
    expect(await text("#test-result h2")).toBe("Test event delivered");
    expect(await text("#test-status")).toBe("HTTP 200");
    expect(await text("#test-duration")).toMatch(/^\d+ ms$/);
    expect(await text("#test-response")).toContain('"received":true');
    // The log shows it too, with the earlier delivery.
    expect(await page.locator("#deliveries tbody tr[data-status=delivered]").count()).toBe(2);
    await shot("07-test-event");

    await page.goto(`${service.url}/dashboard`);
    const row = page.locator(`#row-${subId}`);
    expect(await row.locator("td[data-label='Last delivery']").textContent()).toContain("delivered");
    expect(await row.locator("td[data-label='Format']").textContent()).toBe("Standard Webhooks");
  });

  it("warns when failures switched the subscription off, and re-enables it with one button", async () => {
    receiverUp = false;
    // Four attempts per event: the third event's second attempt is the tenth failure.
    for (let i = 0; i < 3 && (await subscription()).active; i++) {
      const eventId = await emit("document.created", { id: `doc_${i}` });
      await until(`event ${i} settled`, async () => {
        const res = await service.api("GET", `/v1/events/${eventId}`, { token: account.key });
        return ["failed", "skipped"].includes(res.json.deliveries[0]?.status);
      });
    }
    const off = await until("the subscription switched off", async () => {
      const s = await subscription();
      return !s.active && s;
    });
    expect(off.consecutive_failures).toBe(10);

    await page.goto(`${service.url}/dashboard`);
    const warning = page.locator("section.warning");
    await warning.waitFor();
    const facts = (await warning.locator("dl").textContent())!.replace(/\s+/g, " ");
    expect(facts).toMatch(/^When\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/);
    expect(facts).toContain("WhyDeactivated after 10 consecutive failed attempts");
    expect(facts).toContain("Failures10 consecutive failed attempts");
    const row = page.locator(`#row-${subId}`);
    expect(await row.locator("td[data-label=Status]").textContent()).toMatch(/off.*switched off .* after 10 failures/s);
    expect(await row.locator("td[data-label='Consecutive failures']").textContent()).toBe("10");
    await shot("08-switched-off");

    // The detail page shows it at the top too.
    await row.getByRole("link").first().click();
    await page.locator("section.warning").waitFor();
    await shot("09-switched-off-detail");
    if (process.env.UPDATE_README_SCREENSHOT) copyFileSync(join(ARTIFACTS, "09-switched-off-detail.png"), README_SHOT);

    receiverUp = true;
    await page.locator("section.warning").getByRole("button", { name: /Re-enable/ }).click();
    await page.getByText("Webhook switched on.").waitFor();
    expect(await page.locator("section.warning").count()).toBe(0);
    expect(await text("#sub-status")).toBe("active");
    expect(await subscription()).toMatchObject({ active: true, consecutive_failures: 0, disabled_at: null });
  });

  it("shows each delivery's attempts, redelivers a failed one, and recovers the rest", async () => {
    await page.getByLabel("Status").selectOption("failed");
    await page.getByRole("button", { name: "Show", exact: true }).click();
    await page.waitForURL(/status=failed/);
    const failed = page.locator("#deliveries tbody tr");
    expect(await failed.count()).toBe(2);
    expect(await page.locator("#deliveries tbody tr:not([data-status=failed])").count()).toBe(0);
    const first = failed.first();
    await first.locator("summary").click();
    const attempts = first.locator(".attempts li");
    expect(await attempts.count()).toBe(4);
    expect(await attempts.first().textContent()).toMatch(/Attempt 1 · \d{4}-.* UTC · \d+ ms · HTTP 503/);
    expect(await attempts.first().locator("pre").textContent()).toContain("down for maintenance");
    await shot("10-delivery-log");

    const deliveryId = (await first.getAttribute("id"))!.replace("delivery-", "");
    const before = receiver.requests.length;
    await first.getByRole("button", { name: `Redeliver ${deliveryId}` }).click();
    await page.getByText("Delivery queued again").waitFor();
    const [again] = (await receiver.waitFor(before + 1)).slice(before);
    expect(again.headers["webhook-id"]).toBe(deliveryId);
    new Webhook(secret).verify(again.body, again.headers);
    await until("the redelivery recorded", async () => {
      await page.goto(`${service.url}/dashboard/subscriptions/${subId}`);
      return (await page.locator(`#delivery-${deliveryId}`).getAttribute("data-status")) === "delivered";
    });
    await page.locator(`#delivery-${deliveryId} summary`).click();
    expect(await page.locator(`#delivery-${deliveryId} .attempts li`).count()).toBe(5);

    // The field shows its time as every other time on the page, not in the browser's locale.
    const since = page.getByLabel("Failed or skipped since (UTC)");
    expect(await since.inputValue()).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
    // Every failed or skipped delivery since an hour ago: one failed, one skipped.
    const hourAgo = new Date(Date.now() - 3600_000).toISOString().replace("T", " ").slice(0, 19);
    await since.fill(`${hourAgo} UTC`);
    await page.getByRole("button", { name: "Redeliver them all" }).click();
    await page.getByText("2 failed or skipped deliveries queued again.").waitFor();
    await until("both recovered", async () => {
      await page.goto(`${service.url}/dashboard/subscriptions/${subId}`);
      return (await page.locator("#deliveries tbody tr[data-status=delivered]").count()) === 5;
    });
    await shot("11-recovered");
  });

  it("shows the subscription's health: the API's figures per window and a chart of attempts per hour by outcome", async () => {
    await page.goto(`${service.url}/dashboard/subscriptions/${subId}`);
    const stats = (await service.api("GET", `/v1/subscriptions/${subId}/stats`, { token: account.key })).json;
    expect(stats.day.failed).toBeGreaterThanOrEqual(10);
    const day = page.locator("#stats-day");
    expect(await day.locator("[data-field=attempts]").textContent()).toBe(String(stats.day.attempts));
    expect(await day.locator("[data-field=failed]").textContent()).toBe(String(stats.day.failed));
    expect(await day.locator("[data-field=p95_ms]").textContent()).toBe(`${stats.day.p95_ms} ms`);
    const chart = page.getByRole("img", { name: /Attempts per hour over the last 24 hours/ });
    const box = (await chart.boundingBox())!;
    expect(box.width).toBeGreaterThan(300);
    expect(box.height).toBeGreaterThan(50);
    const hours = await page.locator("#stats-chart g.hour").evaluateAll((gs) => gs.map((g) => Number(g.getAttribute("data-attempts"))));
    expect(hours).toHaveLength(24);
    expect(hours.reduce((a, b) => a + b, 0)).toBe(stats.day.attempts);
    // The 503s are drawn, in the style sheet's colour (the CSP lets the nonce'd sheet style the SVG).
    const failedBar = page.locator("#stats-chart rect.bar-status").first();
    expect(await failedBar.evaluate((r) => (globalThis as any).getComputedStyle(r).fill)).toBe("rgb(207, 34, 46)");
    await page.locator("section.stats").screenshot({ path: join(ARTIFACTS, "11b-health.png") });
  });

  it("edits, rotates the secret, toggles, deletes with a confirmation, and shows the plan cap", async () => {
    await page.getByRole("link", { name: "Edit" }).click();
    await page.getByRole("heading", { name: "Edit webhook" }).waitFor();
    expect(await page.getByRole("checkbox", { name: "Every document event document.*" }).isChecked()).toBe(true);
    await page.getByLabel("Subjects (optional)").fill("doc_42, doc_43");
    await page.getByLabel("Description (optional)").fill("clarife sync worker (prod)");
    await shot("12-edit-form");
    await page.getByRole("button", { name: "Save changes" }).click();
    await page.getByText("Changes saved.").waitFor();
    expect(await subscription()).toMatchObject({ subjects: ["doc_42", "doc_43"], description: "clarife sync worker (prod)" });

    page.once("dialog", (d) => void d.accept());
    await page.getByRole("button", { name: "Rotate secret" }).click();
    await page.getByText("New signing secret created.").waitFor();
    const rotated = await page.locator("#secret").textContent();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(secret);
    expect((await service.api("GET", `/v1/subscriptions/${subId}/secret`, { token: account.key })).json.secret).toBe(rotated);

    await page.getByRole("button", { name: /^Switch off/ }).click();
    await page.getByText("Webhook switched off").waitFor();
    expect((await subscription()).active).toBe(false);
    expect(await page.locator("section.warning").count()).toBe(0); // switched off by hand: no failure warning
    await page.getByRole("button", { name: /^Switch on/ }).click();
    await page.getByText("Webhook switched on.").waitFor();
    expect((await subscription()).active).toBe(true);

    // Two more reach Pro's cap of 3.
    for (const path of ["/second", "/third"]) {
      await page.goto(`${service.url}/dashboard/subscriptions/new`);
      await page.getByLabel("Endpoint URL").fill(`${receiver.url}${path}`);
      await page.getByRole("checkbox", { name: "All events *" }).check();
      await page.getByLabel("Format").selectOption("clarife");
      await page.getByRole("button", { name: "Add webhook" }).click();
      await page.getByText("Webhook added").waitFor();
    }
    await page.goto(`${service.url}/dashboard`);
    expect(await text("#usage")).toBe("3 of 3 subscriptions on Pro");
    expect(await text("#cap-message")).toBe(
      "The Pro plan allows 3 subscriptions and this account has 3: delete one or upgrade the plan to add another.",
    );
    expect(await page.getByRole("link", { name: "Add webhook" }).count()).toBe(0);
    await shot("13-list-full");

    // The service's own refusal, if the form is reached anyway.
    await page.goto(`${service.url}/dashboard/subscriptions/new`);
    expect(await text("#cap-message")).toContain("The Pro plan allows 3 subscriptions");
    await page.getByLabel("Endpoint URL").fill(`${receiver.url}/fourth`);
    await page.getByRole("checkbox", { name: "All events *" }).check();
    await page.getByRole("button", { name: "Add webhook" }).click();
    await page.locator("#error-summary").waitFor();
    expect(await text("#error-summary")).toContain("the pro plan allows 3 subscriptions");

    // A phone's width: nothing wider than the screen.
    const phone = await browser.newContext({ viewport: { width: 375, height: 812 }, storageState: await context.storageState() });
    phone.on("page", watch);
    const small = await phone.newPage();
    await small.goto(`${service.url}/dashboard`);
    expect(await fitsWidth(small)).toBe(true);
    await shot("14-phone-list", small);
    await small.goto(`${service.url}/dashboard/subscriptions/${subId}`);
    expect(await fitsWidth(small)).toBe(true);
    await shot("15-phone-detail", small);
    await small.goto(`${service.url}/dashboard/subscriptions/new`);
    expect(await fitsWidth(small)).toBe(true);
    await phone.close();

    // Delete: the dialog first (dismissed: nothing happens), then accepted.
    await page.goto(`${service.url}/dashboard`);
    await page.getByRole("link", { name: `${receiver.url}/third` }).click();
    page.once("dialog", (d) => void d.dismiss());
    await page.getByRole("button", { name: "Delete" }).click();
    const third = page.url();
    expect(third).toMatch(/\/dashboard\/subscriptions\/sub_/);
    expect((await service.api("GET", "/v1/subscriptions", { token: account.key })).json.data).toHaveLength(3);
    page.once("dialog", (d) => {
      expect(d.message()).toContain("This cannot be undone");
      void d.accept();
    });
    await page.getByRole("button", { name: "Delete" }).click();
    await page.getByText("Webhook deleted.").waitFor();
    expect(await text("#usage")).toBe("2 of 3 subscriptions on Pro");
  });

  it("refuses a form post without the session or with a forged CSRF token, and signs out", async () => {
    const action = `${service.url}/dashboard/subscriptions/${subId}/active`;
    const html = await page.content();
    const csrf = html.match(/name="_csrf" value="([^"]+)"/)![1];
    // The browser's cookie, a forged token: refused, nothing changes.
    const forged = await page.request.post(action, { form: { active: "false", back: "detail", _csrf: "forged-token" }, maxRedirects: 0 });
    expect(forged.status()).toBe(403);
    const missing = await page.request.post(action, { form: { active: "false", back: "detail" }, maxRedirects: 0 });
    expect(missing.status()).toBe(403);
    // The right token from another site: refused by its Origin.
    const crossSite = await page.request.post(action, {
      form: { active: "false", back: "detail", _csrf: csrf },
      headers: { origin: "https://evil.example" },
      maxRedirects: 0,
    });
    expect(crossSite.status()).toBe(403);
    // No session at all (a plain client with the right token): refused.
    const noSession = await fetch(action, {
      method: "POST",
      body: new URLSearchParams({ active: "false", back: "detail", _csrf: csrf }),
      redirect: "manual",
    });
    expect(noSession.status).toBe(401);
    expect((await subscription()).active).toBe(true);

    // A copy of the cookie, taken before signing out, is worth nothing after.
    const [copied] = await context.cookies(`${service.url}/dashboard`);
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You are signed out.").waitFor();
    const replayed = await fetch(`${service.url}/dashboard/subscriptions/${subId}`, {
      headers: { cookie: `${copied.name}=${copied.value}` },
      redirect: "manual",
    });
    expect(replayed.status).toBe(401);
    expect(await replayed.text()).toContain('action="/dashboard/login"');
    await shot("16-signed-out");
    expect(await context.cookies(`${service.url}/dashboard`)).toEqual([]);
    await page.goto(`${service.url}/dashboard/subscriptions/${subId}`);
    await page.getByRole("heading", { name: "Sign in" }).waitFor();
    const after = await page.request.post(action, { form: { active: "false", back: "detail", _csrf: csrf }, maxRedirects: 0 });
    expect(after.status()).toBe(401);
    expect((await subscription()).active).toBe(true);
    expect(pageErrors).toEqual([]);
  });

  it("refuses a form another site posts to the API, as Chromium sends it", async () => {
    // A page of no origin of ours (about:blank with this content): Chromium marks its post
    // Origin: null and Sec-Fetch-Site: cross-site.
    const other = await context.newPage();
    await other.setContent(
      `<form method="post" action="${service.url}/api/webhooks"><input name="url" value="https://evil.example/hook"><input name="statuses[]" value="ok"><input name="jobTypes[]" value="export"><button>go</button></form>`,
    );
    const [res] = await Promise.all([other.waitForResponse(`${service.url}/api/webhooks`), other.getByRole("button", { name: "go" }).click()]);
    expect(res.status()).toBe(403);
    expect(res.headers()["www-authenticate"]).toBeUndefined();
    expect((await res.json()).detail).toMatch(/another site/);
    await other.close();
    expect((await service.api("GET", "/api/webhooks", { basic: [account.name, account.key] })).json).toEqual([]);
  });
});
