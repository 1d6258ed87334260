/**
 * Throttling per endpoint in workerd: `throttle_rate` on /v1, the limiter kept in the
 * subscription's Durable Object so that consumer invocations running at once share it,
 * deliveries above the rate deferred (not dropped, no attempt counted), and an unthrottled
 * batch that pays nothing for it.
 */
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import Hookline from "../../src/index";
import { readCounters } from "../../src/metrics";
import { received, receiverUrl, waitFor } from "./delivery-harness";
import { call, createAccount, createSubscription, expectProblem } from "./harness";
import { eventKeyOf } from "../../src/db/event-keys";

interface Message {
  id: string;
  timestamp: Date;
  attempts: number;
  body: { id: string };
}

/** Hands messages to the Worker's queue handler, as the queue would, and reads what it acked or retried. */
async function consume(messages: Message[], bindings: Env = env) {
  const batch = createMessageBatch<{ id: string }>("hookline-deliveries", messages);
  const ctx = createExecutionContext();
  await new Hookline(ctx, bindings).queue(batch);
  return getQueueResult(batch, ctx);
}

/** `count` pending deliveries, each of its own event, to `subscriptionId`, with no queue message. */
async function seedPending(accountId: string, subscriptionId: string, count: number) {
  const now = Date.now();
  const ids: string[] = [];
  const statements: D1PreparedStatement[] = [];
  for (let i = 0; i < count; i++) {
    const eventId = `evt_${crypto.randomUUID()}`;
    const id = `dlv_${crypto.randomUUID()}`;
    statements.push(
      env.DB.prepare(
        "INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES (?, ?, 'document.updated', NULL, ?, ?, ?)",
      ).bind(eventKeyOf(eventId), accountId, `{"n":${i}}`, now, now),
      env.DB.prepare(
        `INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, 'pending', 0, 0, ?, ?, ?)`,
      ).bind(id, eventKeyOf(eventId), subscriptionId, now, now, now),
    );
    ids.push(id);
  }
  await env.DB.batch(statements);
  return ids;
}

const messagesFor = (ids: string[], prefix: string): Message[] =>
  ids.map((id, i) => ({ id: `${prefix}${i}`, timestamp: new Date(), attempts: 1, body: { id } }));

/** The most receipts in any window of `windowMs`. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j] <= sorted[i] - windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

async function deliveryRows(ids: string[]) {
  const { results } = await env.DB.prepare(
    "SELECT id, status, attempts_count, next_attempt_at FROM deliveries WHERE id IN (SELECT value FROM json_each(?))",
  )
    .bind(JSON.stringify(ids))
    .all<{ id: string; status: string; attempts_count: number; next_attempt_at: number | null }>();
  return results;
}

// Metrics mode counts globally: these run first, one at a time.
describe("what throttling costs", () => {
  it("an unthrottled batch makes no Durable Object request and no D1 round trip beyond claim and settle", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url });
    const ids = await seedPending(accountId, sub.id, 5);
    const metered = { ...env, METRICS: "1" } as Env;
    readCounters(true);
    const result = await consume(messagesFor(ids, "u"), metered);
    const counted = readCounters(true);
    expect(result.explicitAcks).toHaveLength(5);
    expect(counted.d1ByHandler.queue.roundTrips).toBe(2);
    expect(counted.durableObject.requests).toBe(0);
    expect((await deliveryRows(ids)).every((d) => d.status === "delivered")).toBe(true);
  });

  it("a throttled subscription costs one Durable Object request per batch", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url, throttle_rate: 100 });
    const ids = await seedPending(accountId, sub.id, 5);
    readCounters(true);
    await consume(messagesFor(ids, "t"), { ...env, METRICS: "1" } as Env);
    const counted = readCounters(true);
    expect(counted.durableObject.requests).toBe(1);
    // All within the rate: sent at once, settled in one round trip after the claim.
    expect(counted.d1ByHandler.queue.roundTrips).toBe(2);
    expect((await deliveryRows(ids)).every((d) => d.status === "delivered" && d.attempts_count === 1)).toBe(true);
  });
});

describe("throttle_rate on /v1", () => {
  it("is set on create, shown, changed and cleared with PATCH", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { throttle_rate: 10 });
    expect(sub.throttle_rate).toBe(10);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.throttle_rate).toBe(10);
    const changed = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { throttle_rate: 10_000 } });
    expect(changed.json.throttle_rate).toBe(10_000);
    const cleared = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { throttle_rate: null } });
    expect(cleared.json.throttle_rate).toBeNull();
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.throttle_rate).toBeNull();
    const plain = await createSubscription(key);
    expect(plain.throttle_rate).toBeNull();
  });

  it("anything but a whole number from 1 to 10000 (or null) is a 422 naming the field, and nothing is written", async () => {
    const { key } = await createAccount();
    for (const bad of [0, 10_001, 2.5, -1, "10", true]) {
      const res = await call("POST", "/v1/subscriptions", {
        token: key,
        body: { url: "https://example.com/hook", event_types: ["document.updated"], throttle_rate: bad },
      });
      const problem = expectProblem(res, 422);
      expect(problem.errors?.[0]).toEqual({
        path: "throttle_rate",
        message: "must be a whole number of deliveries a second from 1 to 10000, or null for no limit",
      });
    }
    expect((await call("GET", "/v1/subscriptions", { token: key })).json.data).toEqual([]);
    const sub = await createSubscription(key, { throttle_rate: 5 });
    expectProblem(await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { throttle_rate: 0 } }), 422);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.throttle_rate).toBe(5);
  });
});

describe("throttle_rate and listen sessions", () => {
  it("a listen session's subscription cannot be throttled (403 naming the field); only active may change", async () => {
    const { key } = await createAccount();
    const opened = await call("POST", "/v1/listen", { token: key, body: { event_types: ["document.updated"] } });
    expect(opened.status, opened.text).toBe(201);
    const sub = opened.json.subscriptions[0];
    expect(sub.throttle_rate).toBeNull();
    const refused = expectProblem(await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { throttle_rate: 5 } }), 403);
    expect(refused.errors?.map((e) => e.path)).toEqual(["throttle_rate"]);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.throttle_rate).toBeNull();
  });
});

describe("the line", () => {
  it("a backlog waits in line; after the rate is changed, a new delivery does not wait behind the old line", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url, throttle_rate: 1 });
    const backlog = await seedPending(accountId, sub.id, 20);
    await consume(messagesFor(backlog, "b"));
    const rows = await deliveryRows(backlog);
    // At 1 a second, three permits fall within the 2 s horizon; the rest wait their turn, up to ~18 s away.
    expect(rows.filter((d) => d.status === "delivered")).toHaveLength(3);
    const last = Math.max(...rows.map((d) => d.next_attempt_at ?? 0));
    expect(last).toBeGreaterThan(Date.now() + 12_000);

    // Unchanged, a new delivery queues behind them.
    const [queued] = await seedPending(accountId, sub.id, 1);
    await consume(messagesFor([queued], "q"));
    const [behind] = await deliveryRows([queued]);
    expect(behind.status).toBe("pending");
    expect(behind.next_attempt_at!).toBeGreaterThan(last);

    // A new rate starts a new line: the next delivery goes at once.
    const patched = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { throttle_rate: 2 } });
    expect(patched.json.throttle_rate).toBe(2);
    const [fresh] = await seedPending(accountId, sub.id, 1);
    await consume(messagesFor([fresh], "f"));
    expect((await deliveryRows([fresh]))[0]).toMatchObject({ status: "delivered", attempts_count: 1 });
  });
});

describe("the limiter holds across consumer invocations running at once", () => {
  it("rate 5: 60 deliveries handed to 4 queue() calls at once arrive all, at most 55 in any 10 s, none counted as failed", async () => {
    const rate = 5;
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("ok");
    const sub = await createSubscription(key, { url: target.url, throttle_rate: rate });
    const ids = await seedPending(accountId, sub.id, 60);
    const started = Date.now();
    // Four invocations at once, as production runs many: a limiter per invocation or per isolate would let 4 x 5 a second through.
    const results = await Promise.all([0, 1, 2, 3].map((i) => consume(messagesFor(ids.slice(i * 15, i * 15 + 15), `c${i}-`))));
    // None of the messages was retried by the queue: what waits went back to pending with messages of its own.
    for (const r of results) {
      expect(r.retryMessages).toEqual([]);
      expect(r.explicitAcks).toHaveLength(15);
    }
    // About 2 s of permits went out (the real queue may already have brought a few deferred ones back).
    const early = await deliveryRows(ids);
    expect(early.filter((d) => d.status === "delivered").length).toBeLessThanOrEqual(4 * rate);
    const waiting = early.filter((d) => d.status === "pending");
    expect(waiting.length).toBeGreaterThan(30);
    // Deferring counted no attempt, and each waits with a time of its own.
    expect(waiting.every((d) => d.attempts_count === 0 && d.next_attempt_at !== null)).toBe(true);

    // The rest come back through the real queue and go out at the rate.
    const rows = await waitFor("every delivery to be delivered", async () => {
      const all = await deliveryRows(ids);
      return all.every((d) => d.status === "delivered") ? all : null;
    }, 90_000);
    expect(rows.every((d) => d.attempts_count === 1)).toBe(true);
    const log = await received(target.key);
    const bodies = log.map((r) => JSON.parse(r.body).data.n);
    expect(new Set(bodies).size).toBe(60);
    expect(log).toHaveLength(60);
    const times = log.map((r) => r.at);
    expect(busiestWindow(times, 10_000)).toBeLessThanOrEqual(1.1 * rate * 10);
    // And throttled is not stalled: 60 at 5 a second take about 12 s.
    expect(Math.max(...times) - started).toBeGreaterThanOrEqual(((60 - 1) / rate) * 1000 - 1000);
    expect(Math.max(...times) - started).toBeLessThan(60_000);
    // No failure was counted against the endpoint.
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.consecutive_failures).toBe(0);
  }, 120_000);
});
