/**
 * DELETE /v1/accounts/{id}: the operator removes an account and everything of it; another
 * account's data is untouched, and nothing of the deleted one is delivered afterwards.
 */
import { createExecutionContext, createMessageBatch, getQueueResult, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { settle } from "../../src/delivery/lifecycle";
import { healthOf } from "../../src/delivery/health";
import Hookline from "../../src/index";
import { deleteAccount } from "../../src/services/accounts";
import { emit, received, receiverUrl, settledDeliveries, waitFor } from "./delivery-harness";
import { BASE, call, createAccount, createSubscription, expectProblem, MISSING_ACCOUNT_ID } from "./harness";

/** Every subscription id each account was seen with (a delivery keeps no account id: it is its subscription's). */
const subscriptionsSeen = new Map<string, Set<string>>();

/** Every row that belongs to the account, table by table. */
async function rowsOf(accountId: string) {
  const count = (query: string) => env.DB.prepare(query).bind(accountId).first<number>("n");
  const seen = subscriptionsSeen.get(accountId) ?? new Set<string>();
  subscriptionsSeen.set(accountId, seen);
  const { results } = await env.DB.prepare("SELECT id FROM subscriptions WHERE account_id = ?1 UNION SELECT id FROM deleted_subscriptions WHERE account_id = ?1")
    .bind(accountId)
    .all<{ id: string }>();
  for (const r of results) seen.add(r.id);
  const ofSeen = (query: string) => env.DB.prepare(query).bind(JSON.stringify([...seen])).first<number>("n");
  const theirs = "SELECT id FROM deliveries WHERE subscription_id IN (SELECT value FROM json_each(?))";
  return {
    accounts: await count("SELECT count(*) AS n FROM accounts WHERE id = ?"),
    api_keys: await count("SELECT count(*) AS n FROM api_keys WHERE account_id = ?"),
    subscriptions: await count("SELECT count(*) AS n FROM subscriptions WHERE account_id = ?"),
    listen_sessions: await count("SELECT count(*) AS n FROM listen_sessions WHERE account_id = ?"),
    events: await count("SELECT count(*) AS n FROM events WHERE account_id = ?"),
    deliveries: await ofSeen(`SELECT count(*) AS n FROM (${theirs})`),
    attempts: await ofSeen(`SELECT count(*) AS n FROM attempts WHERE delivery_id IN (${theirs})`),
    idempotency_keys: await count("SELECT count(*) AS n FROM idempotency_keys WHERE account_id = ?"),
  };
}

/** An account with something in every table: keys, a failing and a healthy subscription, a connected listen socket, a log. */
async function populated() {
  const account = await createAccount("business");
  await call("POST", `/v1/accounts/${account.id}/keys`);
  const healthy = await createSubscription(account.key, { url: receiverUrl("ok").url });
  const failing = await createSubscription(account.key, { url: receiverUrl("status/500").url, event_types: ["document.created"] });
  const idem = await call("POST", "/v1/events", {
    body: { account_id: account.id, type: "document.updated", data: {} },
    headers: { "idempotency-key": `k-${account.id}` },
  });
  expect(idem.status, idem.text).toBe(202);
  const failed = await emit(account.id, "document.created", {});
  await settledDeliveries(idem.json.data[0].id);
  await settledDeliveries(failed.id, undefined, 30_000);
  const session = await call("POST", "/v1/listen", { token: account.key, body: { event_types: ["attribute_updated"] } });
  const res = await exports.default.fetch(`${BASE}/v1/listen/${session.json.id}/connect`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${account.key}` },
  });
  const ws = res.webSocket!;
  ws.accept();
  const socket = { messages: [] as string[], closed: null as null | { code: number; reason: string } };
  ws.addEventListener("message", (e) => socket.messages.push(e.data as string));
  ws.addEventListener("close", (e) => (socket.closed = { code: e.code, reason: e.reason }));
  return { ...account, healthy, failing, socket };
}

describe("DELETE /v1/accounts/{id}", () => {
  it("removes the account and everything of it, closes its listen sockets, and leaves another account untouched", async () => {
    const doomed = await populated();
    const other = await populated();
    const before = await rowsOf(doomed.id);
    expect(Object.values(before).every((n) => n! > 0), JSON.stringify(before)).toBe(true);
    expect((await healthOf(env, doomed.failing.id).read()).count).toBeGreaterThan(0);
    const othersBefore = await rowsOf(other.id);

    const res = await call("DELETE", `/v1/accounts/${doomed.id}`);
    expect(res.status, res.text).toBe(204);
    expect(res.text).toBe("");

    expect(await rowsOf(doomed.id)).toEqual({
      accounts: 0, api_keys: 0, subscriptions: 0, listen_sessions: 0, events: 0, deliveries: 0, attempts: 0, idempotency_keys: 0,
    });
    expect(await waitFor("the listen socket to close", async () => doomed.socket.closed)).toEqual({ code: 4001, reason: "the account was deleted" });
    const stored = await runInDurableObject(healthOf(env, doomed.failing.id), (_i, state) => state.storage.list());
    expect(stored.size).toBe(0);
    expectProblem(await call("GET", "/v1/account", { token: doomed.key }), 401);
    expectProblem(await call("GET", `/v1/accounts/${doomed.id}`), 404);
    const emitted = await call("POST", "/v1/events", { body: { account_id: doomed.id, type: "document.updated", data: {} } });
    expect(expectProblem(emitted, 422).detail).toContain("no such account");

    expect(await rowsOf(other.id)).toEqual(othersBefore);
    expect((await healthOf(env, other.failing.id).read()).count).toBeGreaterThan(0);
    expect(other.socket.closed).toBeNull();
    expect((await call("GET", "/v1/subscriptions", { token: other.key })).json.data).toHaveLength(3);
    const [delivered] = await settledDeliveries((await emit(other.id)).id);
    expect(delivered.status).toBe("delivered");
  });

  it("is the operator's only, and an unknown or already deleted account is a 404", async () => {
    const { id, key } = await createAccount();
    expectProblem(await call("DELETE", `/v1/accounts/${id}`, { token: key }), 403);
    expectProblem(await call("DELETE", `/v1/accounts/${MISSING_ACCOUNT_ID}`), 404);
    expectProblem(await call("DELETE", "/v1/accounts/not-an-id"), 404);
    expect((await call("DELETE", `/v1/accounts/${id}`)).status).toBe(204);
    expectProblem(await call("DELETE", `/v1/accounts/${id}`), 404);
  });

  it("a log larger than one call's budget: the first call stops delivering and keeps the account; the next finishes", async () => {
    const { id, key } = await createAccount();
    await createSubscription(key, { url: receiverUrl("ok").url });
    for (let i = 0; i < 3; i++) await settledDeliveries((await emit(id)).id);
    expect(await deleteAccount(env, { id, shard: 0 }, { rows: 1, rounds: 2 })).toEqual({ complete: false });
    const partway = await rowsOf(id);
    expect(partway).toMatchObject({ accounts: 1, api_keys: 0, subscriptions: 0 });
    expect(partway.events).toBeGreaterThan(0);
    expect(await deleteAccount(env, { id, shard: 0 }, { rows: 1, rounds: 100 })).toEqual({ complete: true });
    expect(Object.values(await rowsOf(id)).every((n) => n === 0)).toBe(true);
  });

  it("the consumer acks a message whose delivery is gone with its account, and sends nothing", async () => {
    const { id, key } = await createAccount();
    const target = receiverUrl("ok");
    const sub = await createSubscription(key, { url: target.url, active: false });
    const [skipped] = await settledDeliveries((await emit(id)).id);
    // As if its message were still in the queue: active and pending again.
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    await env.DB.prepare("UPDATE deliveries SET status = 'pending', next_attempt_at = ? WHERE id = ?").bind(Date.now(), skipped.id).run();
    expect((await call("DELETE", `/v1/accounts/${id}`)).status).toBe(204);

    const batch = createMessageBatch<{ id: string }>("hookline-deliveries", [{ id: "m1", timestamp: new Date(), attempts: 1, body: { id: skipped.id } }]);
    const ctx = createExecutionContext();
    await new Hookline(ctx, env).queue(batch);
    const result = await getQueueResult(batch, ctx);
    expect(result.explicitAcks).toEqual(["m1"]);
    expect(result.retryMessages).toEqual([]);
    expect(await received(target.key)).toEqual([]);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM attempts WHERE delivery_id = ?").bind(skipped.id).first("n")).toBe(0);
  });

  it("an attempt that was under way when its delivery was deleted is not recorded (no orphan in the log)", async () => {
    const now = Date.now();
    const deliveryId = `dlv_${crypto.randomUUID()}`; // deleted meanwhile: no row
    const attempt = {
      id: `att_${crypto.randomUUID()}`, deliveryId, number: 1, startedAt: now, durationMs: 5, outcome: "success" as const,
      statusCode: 200, error: null, responseHeaders: {}, responseBody: "ok",
    };
    await settle(env, [{ attempt, verdict: { kind: "delivered" } }], now);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM attempts WHERE delivery_id = ?").bind(deliveryId).first("n")).toBe(0);
  });
});
