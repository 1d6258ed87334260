/**
 * Operational webhooks (README "Operational webhooks"): the operator's routes, who may call
 * them, and the events their endpoints receive, each once where due, signed in the Standard
 * Webhooks format (checked with the standardwebhooks package) and valid under its catalog
 * schema. Operational webhooks are never switched off and never the subject of an event.
 * Every operational webhook receives every account's events, so each test reads only the
 * events about its own subscriptions (their subject).
 */
import { createExecutionContext } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { schemaErrors } from "../../src/core/json-schema";
import { OPERATIONAL_EVENT_TYPES, SYSTEM_ACCOUNT_ID } from "../../src/core/operational";
import { healthOf } from "../../src/delivery/health";
import Hookline from "../../src/index";
import { emit, received, receiverUrl, settledDeliveries, waitFor } from "./delivery-harness";
import { BASE, call, createAccount, createSubscription, expectProblem, MISSING_SUBSCRIPTION_ID, readAnswer } from "./harness";

const PATH = "/v1/operational-webhooks";
const MISSING_HOOK_ID = "opwh_00000000-0000-4000-8000-000000000000";

interface OperationalEvent {
  webhookId: string;
  type: string;
  timestamp: string;
  subject: string;
  data: any;
}

/** A new operational webhook to a receiver double that answers as `behaviour` says. */
async function createHook(eventTypes: string[] = ["*"], behaviour = "ok") {
  const target = receiverUrl(behaviour);
  const res = await call("POST", PATH, { body: { url: target.url, event_types: eventTypes, description: "ops" } });
  expect(res.status, res.text).toBe(201);
  return { hook: res.json, secret: res.json.secret as string, key: target.key };
}

/** What the hook's receiver got, each verified with its secret, once per webhook-id. */
async function eventsReceived(hook: { key: string; secret: string }): Promise<OperationalEvent[]> {
  const verifier = new Webhook(hook.secret);
  const byId = new Map<string, OperationalEvent>();
  for (const r of await received(hook.key)) {
    const body = verifier.verify(r.body, r.headers) as { type: string; timestamp: string; subject: string; data: unknown };
    byId.set(r.headers["webhook-id"], { webhookId: r.headers["webhook-id"], ...body });
  }
  return [...byId.values()];
}

const about = (events: OperationalEvent[], subscriptionId: string, type?: string) =>
  events.filter((e) => e.subject === subscriptionId && (type === undefined || e.type === type));

/** Waits until the hook received `count` events of `type` about the subscription, and a moment more for any extra. */
async function expectEvents(hook: { key: string; secret: string }, subscriptionId: string, type: string, count: number) {
  await waitFor(`${count} ${type} about ${subscriptionId}`, async () => about(await eventsReceived(hook), subscriptionId, type).length >= count);
  await new Promise((r) => setTimeout(r, 300));
  const found = about(await eventsReceived(hook), subscriptionId, type);
  expect(found, `${type} about ${subscriptionId}`).toHaveLength(count);
  return found;
}

const catalogSchemas = new Map<string, string>();
/** The payload satisfies its event type's schema in the catalog. */
async function expectValid(event: OperationalEvent) {
  if (!catalogSchemas.has(event.type)) {
    const res = await call("GET", `/v1/event-types/${event.type}`);
    expect(res.status, res.text).toBe(200);
    catalogSchemas.set(event.type, JSON.stringify(res.json.schema));
  }
  expect(schemaErrors(catalogSchemas.get(event.type)!, event.data, "data"), event.type).toEqual([]);
}

const countRows = async (sql: string, ...bind: unknown[]) =>
  (await env.DB.prepare(sql).bind(...bind).first<{ n: number }>())!.n;

// First, while no operational webhook exists: nothing written for them.
describe("with no operational webhook", () => {
  it("creating, changing, switching off and deleting subscriptions writes no operational event or delivery", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key);
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { url: "https://example.com/other", active: false } });
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key });
    expect((await call("DELETE", `/v1/subscriptions/${sub.id}`, { token: key })).status).toBe(204);
    const failing = await createSubscription(key);
    await Promise.all(Array.from({ length: 10 }, (_, i) => healthOf(env, failing.id).report(failing.id, `att_quiet_${i}`, false)));
    expect((await call("GET", `/v1/subscriptions/${failing.id}`, { token: key })).json.active).toBe(false);
    expect((await call("DELETE", `/v1/accounts/${accountId}`)).status).toBe(204);
    expect(await countRows("SELECT count(*) AS n FROM events WHERE account_id = ?", SYSTEM_ACCOUNT_ID)).toBe(0);
    // (A delivery keeps no account id: one written for no subscription at all would be an orphan.)
    expect(
      await countRows("SELECT count(*) AS n FROM deliveries WHERE subscription_id NOT IN (SELECT id FROM subscriptions UNION ALL SELECT id FROM deleted_subscriptions)"),
    ).toBe(0);
  });
});

describe("the catalog", () => {
  it("lists the seven operational event types with a JSON Schema each, and an example that satisfies it", async () => {
    for (const name of OPERATIONAL_EVENT_TYPES) {
      const res = await call("GET", `/v1/event-types/${name}`);
      expect(res.status, name).toBe(200);
      expect(res.json).toMatchObject({ name, deprecated: false, description: expect.stringMatching(/^Operational: /) });
      expect(res.json.schema).toMatchObject({ type: "object", required: expect.arrayContaining(["account", "subscription"]) });
      expect(schemaErrors(res.json.schema, res.json.example, "example"), name).toEqual([]);
    }
  });
});

describe("/v1/operational-webhooks", () => {
  it("creates one (201, its secret in the answer), reads, lists, changes, rotates its secret and deletes it", async () => {
    const target = receiverUrl("ok");
    const created = await call("POST", PATH, { body: { url: target.url, event_types: ["subscription.*", "delivery.failed"] } });
    expect(created.status, created.text).toBe(201);
    const hook = created.json;
    expect(hook).toEqual({
      id: expect.stringMatching(/^opwh_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      url: target.url,
      event_types: ["subscription.*", "delivery.failed"],
      description: "",
      active: true,
      consecutive_failures: 0,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      secret: expect.stringMatching(/^whsec_/),
    });
    const { secret, ...shown } = hook;
    expect((await call("GET", `${PATH}/${hook.id}`)).json).toEqual(shown);
    expect((await call("GET", PATH)).json.data).toContainEqual(shown);
    expect((await call("GET", `${PATH}/${hook.id}/secret`)).json).toEqual({ secret });

    const patched = await call("PATCH", `${PATH}/${hook.id}`, { body: { description: "pager", event_types: ["*"], active: false } });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json).toMatchObject({ id: hook.id, description: "pager", event_types: ["*"], active: false, url: target.url });
    expect((await call("GET", `${PATH}/${hook.id}`)).json).toMatchObject({ description: "pager", active: false });

    const before = Date.now();
    const rotated = await call("POST", `${PATH}/${hook.id}/rotate-secret`);
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(secret);
    const grace = Date.parse(rotated.json.previous_secret_expires_at) - before;
    expect(grace).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
    expect(grace).toBeLessThan(24 * 3600_000 + 60_000);
    const given = "whsec_" + btoa("k".repeat(32));
    expect((await call("POST", `${PATH}/${hook.id}/rotate-secret`, { body: { secret: given } })).json.secret).toBe(given);
    expect((await call("GET", `${PATH}/${hook.id}/secret`)).json).toEqual({ secret: given });

    expect((await call("DELETE", `${PATH}/${hook.id}`)).status).toBe(204);
    expectProblem(await call("GET", `${PATH}/${hook.id}`), 404);
    expect((await call("GET", PATH)).json.data.map((h: { id: string }) => h.id)).not.toContain(hook.id);
  });

  it("takes a given secret and a description; lists newest first with a cursor", async () => {
    const secret = "whsec_" + btoa("s".repeat(24));
    const a = await call("POST", PATH, { body: { url: receiverUrl("ok").url, event_types: ["delivery.failed"], secret, description: "a" } });
    expect(a.status, a.text).toBe(201);
    expect(a.json).toMatchObject({ secret, description: "a" });
    const b = await createHook(["subscription.disabled"]);
    const first = await call("GET", `${PATH}?limit=1`);
    expect(first.json.data.map((h: { id: string }) => h.id)).toEqual([b.hook.id]);
    const second = await call("GET", `${PATH}?limit=1&cursor=${encodeURIComponent(first.json.next_cursor)}`);
    expect(second.json.data.map((h: { id: string }) => h.id)).toEqual([a.json.id]);
  });

  it("refuses bad input with a 4xx naming the field, and writes nothing", async () => {
    const hooks = () => countRows("SELECT count(*) AS n FROM subscriptions WHERE account_id = ?", SYSTEM_ACCOUNT_ID);
    const before = await hooks();
    const ok = receiverUrl("ok").url;
    const cases: Array<[unknown, string]> = [
      [{ url: ok, event_types: ["document.updated"] }, "event_types.0"],
      [{ url: ok, event_types: ["subscription.failing", "nope.*"] }, "event_types.1"],
      [{ url: ok, event_types: [] }, "event_types"],
      [{ url: "http://127.0.0.1/hook", event_types: ["*"] }, "url"],
      [{ url: "not a url", event_types: ["*"] }, "url"],
      [{ url: ok, event_types: ["*"], secret: "hunter2" }, "secret"],
      [{ url: ok, event_types: ["*"], headers: {} }, "headers"],
      [{ event_types: ["*"] }, "url"],
    ];
    for (const [body, path] of cases) {
      const problem = expectProblem(await call("POST", PATH, { body }), 422);
      expect(problem.errors?.map((e) => e.path), JSON.stringify(body)).toContain(path);
    }
    expect((await call("POST", PATH, { body: { url: ok, event_types: ["document.updated"] } })).json.detail).toContain(
      "not an operational event type",
    );
    expect(await hooks()).toBe(before);

    const { hook } = await createHook();
    expectProblem(await call("PATCH", `${PATH}/${hook.id}`, { body: { url: "ftp://example.com" } }), 422);
    expectProblem(await call("PATCH", `${PATH}/${hook.id}`, { body: { event_types: ["document.*"] } }), 422);
    expectProblem(await call("PATCH", `${PATH}/${hook.id}`, { body: { secret: "whsec_x" } }), 422);
    expectProblem(await call("POST", `${PATH}/${hook.id}/rotate-secret`, { body: { secret: "nope" } }), 422);
    expect((await call("GET", `${PATH}/${hook.id}`)).json).toMatchObject({ url: hook.url, event_types: ["*"] });
    expect((await call("GET", `${PATH}/${hook.id}/secret`)).json.secret).toBe(hook.secret);

    for (const id of [MISSING_HOOK_ID, "garbage", MISSING_SUBSCRIPTION_ID, SYSTEM_ACCOUNT_ID]) {
      expectProblem(await call("GET", `${PATH}/${id}`), 404);
      expectProblem(await call("DELETE", `${PATH}/${id}`), 404);
      expectProblem(await call("GET", `${PATH}/${id}/deliveries`), 404);
    }
  });

  it("an ordinary subscription's id is a 404 there, and an operational webhook's id is a 404 on /v1/subscriptions", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    expectProblem(await call("GET", `${PATH}/${sub.id}`), 404);
    const { hook } = await createHook();
    expectProblem(await call("GET", `/v1/subscriptions/${hook.id}`, { token: key }), 404);
    expectProblem(await call("DELETE", `/v1/subscriptions/${hook.id}`, { token: key }), 404);
  });
});

describe("who may call", () => {
  it("an account's key gets 403 on every route, before any lookup or body check; no credential gets 401", async () => {
    const { key, name } = await createAccount();
    const { hook } = await createHook();
    const routes: Array<[string, string, unknown?]> = [
      ["POST", PATH, { url: receiverUrl("ok").url, event_types: ["*"] }],
      ["POST", PATH, { nonsense: true }],
      ["GET", PATH],
      ["GET", `${PATH}/${hook.id}`],
      ["GET", `${PATH}/${MISSING_HOOK_ID}`],
      ["PATCH", `${PATH}/${hook.id}`, { active: false }],
      ["DELETE", `${PATH}/${hook.id}`],
      ["GET", `${PATH}/${hook.id}/secret`],
      ["POST", `${PATH}/${hook.id}/rotate-secret`],
      ["GET", `${PATH}/${hook.id}/deliveries`],
    ];
    for (const [method, path, body] of routes) {
      const forbidden = expectProblem(await call(method, path, { token: key, body }), 403);
      expect(forbidden.detail).toContain("operator token");
      expect(JSON.stringify(forbidden)).not.toContain(hook.secret);
      expectProblem(await call(method, path, { basic: [name, key], body }), 403);
      expectProblem(await call(method, path, { token: null, body }), 401);
    }
    // Nothing was changed by those calls.
    expect((await call("GET", `${PATH}/${hook.id}`)).json).toMatchObject({ active: true });
    expect((await call("GET", `${PATH}/${hook.id}/secret`)).json.secret).toBe(hook.secret);
  });

  it("no key or portal link reaches the system account: it is a 404 everywhere an account id goes, and events cannot be emitted to it", async () => {
    const { key } = await createAccount();
    for (const token of [undefined, key]) {
      expectProblem(await call("GET", `/v1/accounts/${SYSTEM_ACCOUNT_ID}`, { token }), 404);
      expectProblem(await call("GET", `/v1/accounts/${SYSTEM_ACCOUNT_ID}/keys`, { token }), 404);
      expectProblem(await call("POST", `/v1/accounts/${SYSTEM_ACCOUNT_ID}/keys`, { token }), 404);
      // The operator's routes: 404 for the operator, 403 for an account's key.
      const status = token === undefined ? 404 : 403;
      expectProblem(await call("PATCH", `/v1/accounts/${SYSTEM_ACCOUNT_ID}`, { token, body: { plan: "business" } }), status);
      expectProblem(await call("DELETE", `/v1/accounts/${SYSTEM_ACCOUNT_ID}`, { token }), status);
    }
    // Nor a portal link into a dashboard: the system account has none.
    expectProblem(await call("POST", `/v1/accounts/${SYSTEM_ACCOUNT_ID}/portal-links`), 404);
    expect(await countRows("SELECT count(*) AS n FROM portal_links WHERE account_id = ?", SYSTEM_ACCOUNT_ID)).toBe(0);
    expect(await countRows("SELECT count(*) AS n FROM api_keys WHERE account_id = ?", SYSTEM_ACCOUNT_ID)).toBe(0);
    expect(await countRows("SELECT count(*) AS n FROM accounts WHERE id = ?", SYSTEM_ACCOUNT_ID)).toBe(1);

    const forged = { account_id: SYSTEM_ACCOUNT_ID, type: "subscription.disabled", data: {} };
    const refused = expectProblem(await call("POST", "/v1/events", { body: forged }), 422);
    expect(refused.errors).toEqual([{ path: "account_id", message: "no such account" }]);
    expectProblem(await call("POST", "/v1/events", { body: { events: [forged] } }), 422);
    await expect(new Hookline(createExecutionContext(), env).emit(forged)).rejects.toThrow(/^422 .*no such account/);
  });

  it("an account sees none of the operational log: deliveries, events and attempts are 404s to it", async () => {
    const hook = await createHook(["subscription.created"]);
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const [event] = await expectEvents(hook, sub.id, "subscription.created", 1);
    const log = await call("GET", `${PATH}/${hook.hook.id}/deliveries`);
    const delivery = log.json.data.find((d: { id: string }) => d.id === event.webhookId);
    expect(delivery).toMatchObject({ subscription_id: hook.hook.id, status: "delivered" });

    expectProblem(await call("GET", `/v1/deliveries/${delivery.id}`, { token: key }), 404);
    expectProblem(await call("POST", `/v1/deliveries/${delivery.id}/redeliver`, { token: key }), 404);
    expectProblem(await call("GET", `/v1/events/${delivery.event_id}`, { token: key }), 404);
    const listed = await call("GET", `/v1/events?account_id=${SYSTEM_ACCOUNT_ID}`, { token: key });
    expect(listed.json.data.map((e: { id: string }) => e.id)).not.toContain(delivery.event_id);
    // The operator sees them.
    expect((await call("GET", `/v1/deliveries/${delivery.id}`)).json.attempts).toHaveLength(1);
  });
});

describe("what the operator is told", () => {
  it("subscription.created, .updated and .deleted, once each, whichever face did it; never a secret", async () => {
    const hook = await createHook(["subscription.created", "subscription.updated", "subscription.deleted"]);
    const { id: accountId, name, key } = await createAccount();
    const sub = await createSubscription(key, { url: "https://example.com/one", description: "first" });
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { url: "https://example.com/two", event_types: ["document.*"] } });
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { description: "first" } }); // no change: no event
    const rotated = await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key });
    expect((await call("DELETE", `/v1/subscriptions/${sub.id}`, { token: key })).status).toBe(204);

    const [created] = await expectEvents(hook, sub.id, "subscription.created", 1);
    expect(created.data).toEqual({
      account: { id: accountId, name },
      subscription: {
        id: sub.id,
        url: "https://example.com/one",
        description: "first",
        format: "standard",
        event_types: ["document.updated"],
        active: true,
        consecutive_failures: 0,
        disabled_reason: null,
      },
      created_at: sub.created_at,
    });
    const updated = await expectEvents(hook, sub.id, "subscription.updated", 2);
    expect(updated.map((e) => e.data.changes).sort()).toEqual([["secret"], ["url", "event_types"]].sort());
    const [moved] = updated.filter((e) => e.data.changes.includes("url"));
    expect(moved.data.subscription).toMatchObject({ url: "https://example.com/two", event_types: ["document.*"] });
    const [deleted] = await expectEvents(hook, sub.id, "subscription.deleted", 1);
    expect(deleted.data).toMatchObject({
      account: { id: accountId, name },
      subscription: { id: sub.id, url: "https://example.com/two" },
      reason: "deleted by its account",
    });
    expect(Date.parse(deleted.data.deleted_at)).toBeGreaterThanOrEqual(Date.parse(created.data.created_at));

    const all = about(await eventsReceived(hook), sub.id);
    for (const e of all) await expectValid(e);
    const bodies = (await received(hook.key)).map((r) => r.body).join("\n");
    expect(bodies).not.toContain(sub.secret);
    expect(bodies).not.toContain(rotated.json.secret);

    // The SmartShape face goes through the same service.
    const made = await exports.default.fetch(
      new Request(`${BASE}/webhook/`, {
        method: "PUT",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: JSON.stringify({ event: "file_uploaded", url: "https://example.com/smartshape", secretToken: "smartshape-token" }),
      }),
    );
    const answer = await readAnswer(made);
    expect(answer.status, answer.text).toBe(200);
    const smart = answer.json as { _id: string };
    await expectEvents(hook, smart._id, "subscription.created", 1);
    const gone = await exports.default.fetch(new Request(`${BASE}/webhook/${smart._id}`, { method: "DELETE", headers: { authorization: `Bearer ${key}` } }));
    expect(gone.status).toBeLessThan(300);
    const [smartDeleted] = await expectEvents(hook, smart._id, "subscription.deleted", 1);
    expect(smartDeleted.data.subscription).toMatchObject({ format: "smartshape", url: "https://example.com/smartshape" });
    expect(JSON.stringify(await received(hook.key))).not.toContain('"tok"');
  });

  it("switching off and back on through PATCH: subscription.disabled (manual) and .enabled, and no .updated", async () => {
    const hook = await createHook(["*"]);
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: false } });
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: false } }); // already off
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    const [disabled] = await expectEvents(hook, sub.id, "subscription.disabled", 1);
    expect(disabled.data).toMatchObject({
      trigger: "manual",
      reason: expect.stringContaining("switched off by its account"),
      subscription: { id: sub.id, active: false },
      last_attempt: null,
    });
    const [enabled] = await expectEvents(hook, sub.id, "subscription.enabled", 1);
    expect(enabled.data).toMatchObject({ subscription: { id: sub.id, active: true }, previously: { consecutive_failures: 0 } });
    expect(about(await eventsReceived(hook), sub.id, "subscription.updated")).toEqual([]);
    for (const e of [disabled, enabled]) await expectValid(e);
  });

  it("the failure counter: subscription.failing once at half of DEACTIVATE_AFTER, .disabled once at it, .enabled when switched back on", async () => {
    const hook = await createHook(["subscription.failing", "subscription.disabled", "subscription.enabled"]);
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("status/503").url });
    const stub = healthOf(env, sub.id);
    const last = (i: number) => ({ outcome: "http_status" as const, statusCode: 503, error: "the receiver answered 503", startedAt: Date.now() + i });
    // DEACTIVATE_AFTER is 10: twenty failures at the same moment.
    await Promise.all(Array.from({ length: 20 }, (_, i) => stub.report(sub.id, `att_f${i}`, false, last(i))));
    await stub.report(sub.id, "att_f3", false, last(3)); // the same attempt again counts nothing

    const [failing] = await expectEvents(hook, sub.id, "subscription.failing", 1);
    expect(failing.data).toMatchObject({
      account: { id: accountId },
      subscription: { id: sub.id, url: sub.url },
      consecutive_failures: 5,
      deactivate_after: 10,
      last_attempt: { outcome: "http_status", status_code: 503, error: "the receiver answered 503" },
    });
    expect(failing.data.subscription.consecutive_failures).toBe(5);
    const [disabled] = await expectEvents(hook, sub.id, "subscription.disabled", 1);
    expect(disabled.data).toMatchObject({
      trigger: "automatic",
      reason: "deactivated after 10 consecutive failed attempts",
      consecutive_failures: 10,
      subscription: { id: sub.id, active: false, disabled_reason: "deactivated after 10 consecutive failed attempts" },
      last_attempt: { status_code: 503 },
    });
    expect(Date.parse(disabled.data.failing_since)).toBeLessThanOrEqual(Date.parse(disabled.data.disabled_at));
    expect(Date.parse(failing.timestamp)).toBeLessThanOrEqual(Date.parse(disabled.timestamp));
    const off = (await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json;
    expect(disabled.data.disabled_at).toBe(off.disabled_at);

    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    const [enabled] = await expectEvents(hook, sub.id, "subscription.enabled", 1);
    expect(enabled.data.previously).toEqual({
      disabled_reason: "deactivated after 10 consecutive failed attempts",
      disabled_at: off.disabled_at,
      consecutive_failures: off.consecutive_failures,
    });
    for (const e of [failing, disabled, enabled]) await expectValid(e);

    // A new run of failures after the reset: failing once more; a success ends a run.
    for (let i = 0; i < 6; i++) await stub.report(sub.id, `att_g${i}`, false, last(i));
    await expectEvents(hook, sub.id, "subscription.failing", 2);
    await stub.report(sub.id, "att_ok", true);
    for (let i = 0; i < 4; i++) await stub.report(sub.id, `att_h${i}`, false, last(i));
    await new Promise((r) => setTimeout(r, 500));
    expect(about(await eventsReceived(hook), sub.id, "subscription.failing")).toHaveLength(2);
    await stub.report(sub.id, "att_h4", false, last(4));
    await expectEvents(hook, sub.id, "subscription.failing", 3);
    expect(about(await eventsReceived(hook), sub.id, "subscription.disabled")).toHaveLength(1);
  });

  it("delivery.failed once when every attempt of a delivery failed, with its figures; none for one that succeeds late", async () => {
    const hook = await createHook(["delivery.failed"]);
    const { id: accountId, key } = await createAccount();
    const failing = await createSubscription(key, { url: receiverUrl("status/500").url });
    const late = await createSubscription(key, { url: receiverUrl("flaky/2").url, event_types: ["webhook.test"] });
    const event = await emit(accountId);
    const lateEvent = await emit(accountId, "webhook.test", {});
    const [d] = await settledDeliveries(event.id, undefined, 20_000);
    expect(d.status).toBe("failed");
    expect((await settledDeliveries(lateEvent.id, undefined, 20_000))[0].status).toBe("delivered");

    const [told] = await expectEvents(hook, failing.id, "delivery.failed", 1);
    expect(told.data).toMatchObject({
      account: { id: accountId },
      subscription: { id: failing.id, url: failing.url, consecutive_failures: 4 },
      delivery: { id: d.id, attempts: 4 },
      event: { id: event.id, type: "document.updated", subject: null },
      last_attempt: { outcome: "http_status", status_code: 500, error: "receiver.test answered 500 Internal Server Error: the receiver failed on its side (its logs say why)" },
    });
    await expectValid(told);
    expect(about(await eventsReceived(hook), late.id)).toEqual([]);
  });

  it("no loops: an operational webhook that always fails is never switched off and is never the subject of an event", async () => {
    const watcher = await createHook(["*"]);
    const broken = await createHook(["subscription.created"], "status/500");
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    await expectEvents(watcher, sub.id, "subscription.created", 1);
    // The broken hook's delivery fails four times and ends failed.
    const log = await waitFor("the broken hook's delivery to fail", async () => {
      const res = await call("GET", `${PATH}/${broken.hook.id}/deliveries?status=failed`);
      return res.json.data.length > 0 ? res.json.data : null;
    }, 20_000);
    expect(log[0]).toMatchObject({ subscription_id: broken.hook.id, status: "failed", attempts_count: 4 });
    const detail = await call("GET", `/v1/deliveries/${log[0].id}`);
    expect(detail.json.attempts.map((a: { status_code: number }) => a.status_code)).toEqual([500, 500, 500, 500]);

    // Well past DEACTIVATE_AFTER: counted, never switched off.
    const stub = healthOf(env, broken.hook.id);
    await Promise.all(Array.from({ length: 15 }, (_, i) => stub.report(broken.hook.id, `att_b${i}`, false)));
    expect((await stub.read()).deactivated).toBe(false);
    const after = (await call("GET", `${PATH}/${broken.hook.id}`)).json;
    expect(after.active).toBe(true);
    expect(after.consecutive_failures).toBeGreaterThanOrEqual(15);

    await new Promise((r) => setTimeout(r, 1000));
    const subjects = (await eventsReceived(watcher)).map((e) => e.subject);
    expect(subjects.filter((s) => s.startsWith("opwh_"))).toEqual([]);
    expect(await countRows("SELECT count(*) AS n FROM events WHERE account_id = ? AND subject LIKE 'opwh_%'", SYSTEM_ACCOUNT_ID)).toBe(0);
  });

  it("a listen session's subscriptions tell nothing: opened, toggled, failing, switched off or closed", async () => {
    const hook = await createHook(["*"]);
    const { key } = await createAccount();
    const opened = await call("POST", "/v1/listen", { token: key, body: { event_types: ["document.updated"], format: "standard" } });
    expect(opened.status, opened.text).toBe(201);
    const sub = opened.json.subscriptions[0];
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: false } });
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    // The failure counter hears of listen attempts as such: no failing, no disabled.
    const stub = healthOf(env, sub.id);
    const listenFailure = { outcome: "http_status" as const, statusCode: 502, error: "no answer", startedAt: Date.now(), listen: true };
    for (let i = 0; i < 10; i++) await stub.report(sub.id, `att_l${i}`, false, listenFailure);
    expect((await stub.read()).deactivated).toBe(true);
    expect((await call("DELETE", `/v1/listen/${opened.json.id}`, { token: key })).status).toBe(204);
    // An ordinary subscription made after them is told: by then, theirs would have arrived.
    const marker = await createSubscription(key);
    await expectEvents(hook, marker.id, "subscription.created", 1);
    await new Promise((r) => setTimeout(r, 300));
    expect(about(await eventsReceived(hook), sub.id)).toEqual([]);
  });

  it("deleting an account: subscription.deleted for each of its subscriptions", async () => {
    const hook = await createHook(["subscription.deleted"]);
    const { id: accountId, key } = await createAccount();
    const subs = [await createSubscription(key), await createSubscription(key)];
    expect((await call("DELETE", `/v1/accounts/${accountId}`)).status).toBe(204);
    for (const sub of subs) {
      const [deleted] = await expectEvents(hook, sub.id, "subscription.deleted", 1);
      expect(deleted.data).toMatchObject({ account: { id: accountId }, subscription: { id: sub.id }, reason: "its account was deleted" });
    }
  });

  it("a paused operational webhook records its events as skipped, and is sent nothing", async () => {
    const hook = await createHook(["subscription.created"]);
    await call("PATCH", `${PATH}/${hook.hook.id}`, { body: { active: false } });
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const skipped = await waitFor("a skipped delivery", async () => {
      const res = await call("GET", `${PATH}/${hook.hook.id}/deliveries?status=skipped`);
      return res.json.data.length > 0 ? res.json.data : null;
    });
    const event = await call("GET", `/v1/events/${skipped[0].event_id}`);
    expect(event.json).toMatchObject({ account_id: SYSTEM_ACCOUNT_ID, type: "subscription.created", subject: sub.id });
    expect(await received(hook.key)).toEqual([]);
  });
});
