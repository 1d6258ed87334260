import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import Hookline from "../../src/index";
import { describe, expect, it } from "vitest";
import { healthOf } from "../../src/delivery/health";
import { sql } from "drizzle-orm";
import { sqlAll } from "../../src/db/client";
import { statusSql } from "../../src/delivery/lifecycle";
import { call, createAccount, createSubscription, expectProblem } from "./harness";
import { deliveryWithAttempts, emit, received, receiverUrl, settledDeliveries, waitFor } from "./delivery-harness";
import { eventKeyOf } from "../../src/db/event-keys";

/** Rows written straight to D1, as the engine would have left them (no queue message). */
const insertEvent = (id: string, accountId: string, data: string, at: number) =>
  env.DB.prepare(
    "INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES (?, ?, 'document.updated', NULL, ?, ?, ?)",
  ).bind(eventKeyOf(id), accountId, data, at, at);

interface DeliveryRowInput {
  id: string;
  eventId: string;
  subscriptionId: string;
  accountId: string;
  status: string;
  attemptsCount?: number;
  nextAttemptAt: number | null;
  leaseUntil?: number | null;
  createdAt: number;
}

const insertDelivery = (d: DeliveryRowInput) =>
  env.DB.prepare(
    "INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, next_attempt_at, lease_until, created_at, updated_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
  ).bind(d.id, eventKeyOf(d.eventId), d.subscriptionId, d.status, d.attemptsCount ?? 0, d.nextAttemptAt, d.leaseUntil ?? null, d.createdAt, d.createdAt);

/**
 * A delivery to a new account's "ok" receiver, written straight to D1 with its event (no queue
 * message), `age` ms old: as the engine would have left it had its message been lost or its consumer died.
 */
async function strandedDelivery(d: { status: "pending" | "in_flight"; nextAttemptAt: number | null; leaseUntil?: number; age?: number; data?: string }) {
  const { id: accountId, key } = await createAccount();
  const target = receiverUrl("ok");
  const sub = await createSubscription(key, { url: target.url });
  const createdAt = Date.now() - (d.age ?? 0);
  const eventId = `evt_${crypto.randomUUID()}`;
  const deliveryId = `dlv_${crypto.randomUUID()}`;
  await env.DB.batch([
    insertEvent(eventId, accountId, d.data ?? "{}", createdAt),
    insertDelivery({ id: deliveryId, eventId, subscriptionId: sub.id, accountId, status: d.status, nextAttemptAt: d.nextAttemptAt, leaseUntil: d.leaseUntil, createdAt }),
  ]);
  return { key, target, eventId, deliveryId, createdAt };
}

// The sweep is global: its tests run one at a time, before the concurrent ones.
describe("the cron sweep", () => {
  it("the cron sweep delivers a pending delivery that has no queue message", async () => {
    const now = Date.now();
    // Written straight to D1, as if the queue had lost its message.
    const { target, eventId, deliveryId } = await strandedDelivery({ status: "pending", nextAttemptAt: now - 60_000, data: '{"lost":true}' });
    await new Promise((r) => setTimeout(r, 1500));
    expect(await received(target.key)).toHaveLength(0);

    await exports.default.scheduled();
    const [delivery] = await settledDeliveries(eventId);
    expect(delivery).toMatchObject({ id: deliveryId, status: "delivered" });
    const [req] = await received(target.key);
    expect(JSON.parse(req.body).data).toEqual({ lost: true });
  });

  it("the sweep takes back a delivery whose lease ran out and sends it again", async () => {
    const now = Date.now();
    // As a claim leaves it: next_attempt_at untouched, the lease already past.
    const { eventId } = await strandedDelivery({ status: "in_flight", nextAttemptAt: now - 41_000, leaseUntil: now - 1 });
    await exports.default.scheduled();
    const [delivery] = await settledDeliveries(eventId);
    expect(delivery.status).toBe("delivered");
  });
});

describe("the cron sweep and new deliveries (stored with no next_attempt_at)", () => {
  /** Where the sweep's scan for new deliveries stands; set back so that rows written "40 s ago" are past it. */
  const markAt = async () => (await env.DB.prepare("SELECT at FROM sweep_marks WHERE name = 'fresh'").first<{ at: number }>())!.at;
  const setMark = (at: number) => env.DB.prepare("UPDATE sweep_marks SET at = ? WHERE name = 'fresh'").bind(at).run();
  const stored = (id: string) =>
    env.DB.prepare("SELECT status, next_attempt_at FROM deliveries WHERE id = ?").bind(id).first<{ status: string; next_attempt_at: number | null }>();

  const freshDelivery = (status: "pending" | "in_flight", age: number) =>
    strandedDelivery({ status, nextAttemptAt: null, leaseUntil: status === "in_flight" ? Date.now() - 1 : undefined, age, data: '{"fresh":true}' });

  it("a new delivery whose message was lost is sent once it is older than the grace, and the mark moves past it", async () => {
    await setMark(Date.now() - 60_000);
    const lost = await freshDelivery("pending", 40_000);
    await exports.default.scheduled();
    const [delivery] = await settledDeliveries(lost.eventId);
    expect(delivery).toMatchObject({ id: lost.deliveryId, status: "delivered" });
    expect(JSON.parse((await received(lost.target.key))[0].body).data).toEqual({ fresh: true });
    expect(await markAt()).toBeGreaterThan(lost.createdAt);
    expect(await markAt()).toBeLessThanOrEqual(Date.now() - 29_000);
  });

  it("a new delivery whose consumer died (lease run out, no next_attempt_at) is taken back and sent", async () => {
    await setMark(Date.now() - 60_000);
    const stranded = await freshDelivery("in_flight", 40_000);
    await exports.default.scheduled();
    const [delivery] = await settledDeliveries(stranded.eventId);
    expect(delivery.status).toBe("delivered");
    expect(await received(stranded.target.key)).toHaveLength(1);
  });

  it("a new delivery within the grace is left to its message, and shows as due when it was created", async () => {
    await setMark(Date.now() - 60_000);
    const young = await freshDelivery("pending", 2_000);
    await exports.default.scheduled();
    await new Promise((r) => setTimeout(r, 1000));
    expect(await received(young.target.key)).toHaveLength(0);
    expect(await stored(young.deliveryId)).toEqual({ status: "pending", next_attempt_at: null });
    // The mark stops short of it, so the next sweep still looks at it.
    expect(await markAt()).toBeLessThanOrEqual(young.createdAt);
    const detail = await deliveryWithAttempts(young.deliveryId, young.key);
    expect(detail).toMatchObject({ status: "pending", next_attempt_at: new Date(young.createdAt).toISOString() });
  });

  it("after an outage the scan catches up ten minutes a sweep, giving each unfinished delivery its created_at", async () => {
    const now = Date.now();
    await setMark(now - 35 * 60_000);
    const old = await freshDelivery("pending", 20 * 60_000);
    await exports.default.scheduled();
    // The first sweep reached mark + 10 min: not yet the delivery, 20 minutes old.
    expect(await markAt()).toBe(now - 25 * 60_000);
    expect((await stored(old.deliveryId))!.next_attempt_at).toBeNull();
    await exports.default.scheduled();
    expect(await markAt()).toBe(now - 15 * 60_000);
    const [delivery] = await settledDeliveries(old.eventId);
    expect(delivery.status).toBe("delivered");
    expect(await received(old.target.key)).toHaveLength(1);
  });
});

describe.concurrent("the consumer and the failure counter", () => {
  it("a queue message handed over twice gives one attempt, and the consumer acks it explicitly", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("ok");
    const sub = await createSubscription(key, { url: target.url, active: false });
    const event = await emit(accountId);
    const [skipped] = await settledDeliveries(event.id);
    expect(skipped.status).toBe("skipped");
    // Make it pending again without a message, then hand the consumer the same message twice.
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    await env.DB.prepare("UPDATE deliveries SET status = 'pending', next_attempt_at = ? WHERE id = ?")
      .bind(Date.now(), skipped.id)
      .run();
    const message = { id: "m1", timestamp: new Date(), attempts: 1, body: { id: skipped.id } };
    const result = await consume([message, { ...message, id: "m2" }]);
    expect(result.outcome).toBe("ok");
    expect(result.explicitAcks.sort()).toEqual(["m1", "m2"]);
    expect(result.retryMessages).toEqual([]);
    expect(await received(target.key)).toHaveLength(1);
    const detail = await deliveryWithAttempts(skipped.id, key);
    expect(detail.status).toBe("delivered");
    expect(detail.attempts).toHaveLength(1);
  });

  it("a failed attempt turns into retry({ delaySeconds }) from RETRY_SCHEDULE", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("status/500");
    const sub = await createSubscription(key, { url: target.url, active: false });
    const event = await emit(accountId);
    const [d] = await settledDeliveries(event.id);
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    await env.DB.prepare("UPDATE deliveries SET status = 'pending', next_attempt_at = ? WHERE id = ?").bind(Date.now(), d.id).run();
    const result = await consume([{ id: "m1", timestamp: new Date(), attempts: 1, body: { id: d.id } }]);
    const before = Date.now();
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId)).toEqual(["m1"]);
    expect(result.explicitAcks).toEqual([]);
    const detail = await deliveryWithAttempts(d.id, key);
    expect(detail.status).toBe("pending");
    // RETRY_SCHEDULE is "1,1,1" in tests: the next try is due about a second after the first.
    const due = Date.parse(detail.next_attempt_at) - Date.parse(detail.attempts[0].started_at);
    expect(due).toBeGreaterThanOrEqual(1000);
    expect(due).toBeLessThan(1000 + (Date.now() - before) + 1000);
  });

  it("twenty failures at the same moment count exactly and switch the subscription off once", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("status/500").url });
    const stub = healthOf(env, sub.id);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => stub.report(sub.id, `att_${i}`, false)),
    );
    expect(results.filter((r) => r.deactivated).length).toBeGreaterThan(0);
    expect(await stub.read()).toEqual({ count: 20, deactivated: true });
    // Reporting the same attempt again does not count it twice.
    await stub.report(sub.id, "att_3", false);
    expect((await stub.read()).count).toBe(20);
    const after = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(after.json.active).toBe(false);
    expect(after.json.disabled_reason).toContain("10 consecutive failed attempts");
    expect(after.json.disabled_at).not.toBeNull();
    expect(after.json.consecutive_failures).toBeGreaterThanOrEqual(10);

    const back = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    expect(back.json).toMatchObject({ active: true, disabled_reason: null, disabled_at: null, consecutive_failures: 0 });
    expect(await stub.read()).toEqual({ count: 0, deactivated: false });
  });

  it("deleting a subscription removes its Durable Object's state and skips its pending deliveries", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("status/500").url });
    const stub = healthOf(env, sub.id);
    await stub.report(sub.id, "att_a", false);
    await stub.report(sub.id, "att_b", false);
    expect((await stub.read()).count).toBe(2);
    const res = await call("DELETE", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(res.status).toBe(204);
    expect(await stub.read()).toEqual({ count: 0, deactivated: false });
  });

  it("a success resets the counter; a healthy endpoint never calls the Durable Object", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("flaky/2");
    const sub = await createSubscription(key, { url: target.url });
    const [d] = await settledDeliveries((await emit(accountId)).id);
    expect(d.status).toBe("delivered");
    const stub = healthOf(env, sub.id);
    expect(await stub.read()).toEqual({ count: 0, deactivated: false });
    const got = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(got.json.consecutive_failures).toBe(0);

    const healthy = await createSubscription(key, { url: receiverUrl("ok").url, event_types: ["webhook.test"] });
    await settledDeliveries((await emit(accountId, "webhook.test", {})).id);
    const ids = await listDurableObjectNames([sub.id, healthy.id]);
    expect(ids).toEqual([sub.id]);
  });

  it("an endpoint that always fails is switched off after exactly DEACTIVATE_AFTER attempts, pending work skipped", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("status/500");
    const sub = await createSubscription(key, { url: target.url });
    const events = [];
    for (let i = 0; i < 3; i++) events.push(await emit(accountId));
    await waitFor("deactivation", async () => {
      const res = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
      return res.json.active === false ? res.json : null;
    });
    for (const e of events) await settledDeliveries(e.id);
    const log = await received(target.key);
    // Three deliveries of four attempts could make 12; the tenth switches it off.
    expect(log.length).toBeGreaterThanOrEqual(10);
    expect(log.length).toBeLessThanOrEqual(12);
    const later = await emit(accountId);
    const [skipped] = await settledDeliveries(later.id);
    expect(skipped.status).toBe("skipped");
  });
});

describe("recording outcomes as they come", () => {
  /** `count` pending deliveries, each of its own event, to a new account's subscription to `behaviour`. */
  async function seedPending(behaviour: string, count: number) {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl(behaviour).url });
    const now = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const eventId = `evt_${crypto.randomUUID()}`;
      const id = `dlv_${crypto.randomUUID()}`;
      await env.DB.batch([
        insertEvent(eventId, accountId, `{"n":${i}}`, now),
        insertDelivery({ id, eventId, subscriptionId: sub.id, accountId, status: "pending", nextAttemptAt: now, createdAt: now }),
      ]);
      ids.push(id);
    }
    return ids;
  }

  it("endpoints that hang hold back neither another account's record nor a retry's schedule", async () => {
    const hanging = await seedPending("hang", 4);
    const [prompt] = await seedPending("ok", 1);
    const [failing] = await seedPending("status/500", 1);
    // As every reader sees it (lifecycle's statusSql): in flight while its batch's lease holds it.
    const status = async (id: string) =>
      (
        await sqlAll<{ status: string; next_attempt_at: number | null }>(env.DB, sql`
          SELECT ${statusSql(sql.raw("d"), Date.now())} AS status, next_attempt_at FROM deliveries d WHERE id = ${id}`)
      )[0];
    const messages = [...hanging, prompt, failing].map((id, i) => ({ id: `m${i}`, timestamp: new Date(), attempts: 1, body: { id } }));

    const consumed = consume(messages);
    // The prompt delivery reads as delivered, and the failed one as scheduled, while the batch
    // still waits on the hanging endpoints (DELIVERY_TIMEOUT_MS is 1 s in tests).
    await waitFor("the prompt delivery to be recorded", async () => (await status(prompt)).status === "delivered");
    expect((await status(failing)).status).toBe("pending");
    expect((await status(failing)).next_attempt_at).not.toBeNull();
    for (const id of hanging) expect((await status(id)).status).toBe("in_flight");

    const result = await consumed;
    // The failed delivery's retry went out as its own message; the hanging ones retry with the batch.
    const index = (id: string) => `m${[...hanging, prompt, failing].indexOf(id)}`;
    expect(result.explicitAcks).toEqual(expect.arrayContaining([index(prompt), index(failing)]));
    expect(result.retryMessages.map((m: { msgId: string }) => m.msgId).sort()).toEqual(hanging.map(index).sort());
    for (const id of hanging) expect((await status(id)).status).toBe("pending");
  });

  it("a message of several deliveries is acked once all are recorded; a failed one retries as a message of its own", async () => {
    const prompt = await seedPending("ok", 3);
    const [failing] = await seedPending("status/500", 1);
    const result = await consume([{ id: "many", timestamp: new Date(), attempts: 1, body: { ids: [...prompt, failing] } }]);
    // Retrying the message itself would send the three delivered ones again.
    expect(result.explicitAcks).toEqual(["many"]);
    expect(result.retryMessages).toEqual([]);
    const statuses = await env.DB.prepare(`SELECT id, status FROM deliveries WHERE id IN (?, ?, ?)`).bind(...prompt).all();
    expect(statuses.results.map((r) => r.status)).toEqual(["delivered", "delivered", "delivered"]);
    // The real queue hands the retry back after RETRY_SCHEDULE's first delay (1 s in tests).
    await waitFor("the failed delivery's second attempt", async () => {
      const row = await env.DB.prepare("SELECT attempts_count FROM deliveries WHERE id = ?").bind(failing).first<{ attempts_count: number }>();
      return row!.attempts_count >= 2;
    });
  });

  it("a batch of prompt endpoints records in one round trip and acks every message", async () => {
    const ids = await seedPending("ok", 5);
    const result = await consume(ids.map((id, i) => ({ id: `p${i}`, timestamp: new Date(), attempts: 1, body: { id } })));
    expect(result.explicitAcks.sort()).toEqual(ids.map((_, i) => `p${i}`).sort());
    const rows = await env.DB.prepare(
      `SELECT DISTINCT status, updated_at FROM deliveries WHERE id IN (${ids.map(() => "?").join(",")})`,
    )
      .bind(...ids)
      .all();
    // One settle statement wrote them all: all delivered, one updated_at.
    expect(rows.results).toEqual([{ status: "delivered", updated_at: expect.any(Number) }]);
  });
});

/** Hands messages to the Worker's queue handler, as the queue would, and reads what it acked or retried. */
async function consume(messages: { id: string; timestamp: Date; attempts: number; body: { id?: string; ids?: string[] } }[]) {
  const batch = createMessageBatch<{ id?: string; ids?: string[] }>("hookline-deliveries", messages);
  const ctx = createExecutionContext();
  await new Hookline(ctx, env).queue(batch);
  return getQueueResult(batch, ctx);
}

/** Which of these subscriptions' Durable Objects were ever created. */
async function listDurableObjectNames(subscriptionIds: string[]) {
  const { listDurableObjectIds } = await import("cloudflare:test");
  const existing = new Set((await listDurableObjectIds(env.SUBSCRIPTION_HEALTH)).map((id) => id.toString()));
  return subscriptionIds.filter((s) => existing.has(env.SUBSCRIPTION_HEALTH.idFromName(s).toString()));
}

describe("retention", () => {
  it("the hourly purge removes finished deliveries, attempts and events past LOG_RETENTION_DAYS, and keeps the rest", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url });
    const [fresh] = await settledDeliveries((await emit(accountId)).id);
    const old = Date.now() - 31 * 24 * 60 * 60 * 1000;
    const oldEvent = `evt_${crypto.randomUUID()}`;
    const oldDelivery = `dlv_${crypto.randomUUID()}`;
    const pendingOld = `dlv_${crypto.randomUUID()}`;
    await env.DB.batch([
      insertEvent(oldEvent, accountId, "{}", old),
      insertDelivery({ id: oldDelivery, eventId: oldEvent, subscriptionId: sub.id, accountId, status: "delivered", attemptsCount: 1, nextAttemptAt: null, createdAt: old }),
      env.DB.prepare("INSERT INTO attempts (id, delivery_id, number, started_at, duration_ms, outcome) VALUES (?, ?, 1, ?, 5, 'success')").bind(`att_${crypto.randomUUID()}`, oldDelivery, old),
      // Still to be sent: never purged, however old.
      insertDelivery({ id: pendingOld, eventId: oldEvent, subscriptionId: sub.id, accountId, status: "pending", nextAttemptAt: Date.now() + 3_600_000, createdAt: old }),
    ]);
    // An old event whose only delivery, to a subscription deleted long ago, is finished: all three go.
    const gone = await createSubscription(key, { url: receiverUrl("ok").url });
    const goneEvent = `evt_${crypto.randomUUID()}`;
    await env.DB.batch([
      insertEvent(goneEvent, accountId, "{}", old),
      insertDelivery({ id: `dlv_${crypto.randomUUID()}`, eventId: goneEvent, subscriptionId: gone.id, accountId, status: "delivered", attemptsCount: 1, nextAttemptAt: null, createdAt: old }),
    ]);
    expect((await call("DELETE", `/v1/subscriptions/${gone.id}`, { token: key })).status).toBe(204);
    await env.DB.prepare("UPDATE deleted_subscriptions SET deleted_at = ? WHERE id = ?").bind(old, gone.id).run();
    const { sweep } = await import("../../src/delivery/sweep");
    await sweep(env, Date.now(), true);
    expectProblem(await call("GET", `/v1/events/${goneEvent}`, { token: key }), 404);
    expect(await env.DB.prepare("SELECT id FROM deleted_subscriptions WHERE id = ?").bind(gone.id).first()).toBeNull();
    expectProblem(await call("GET", `/v1/deliveries/${oldDelivery}`, { token: key }), 404);
    const attempts = await env.DB.prepare("SELECT count(*) AS n FROM attempts WHERE delivery_id = ?").bind(oldDelivery).first<{ n: number }>();
    expect(attempts?.n).toBe(0);
    expect((await call("GET", `/v1/deliveries/${pendingOld}`, { token: key })).status).toBe(200);
    // The old event stays while one of its deliveries does.
    expect((await call("GET", `/v1/events/${oldEvent}`, { token: key })).status).toBe(200);
    expect((await call("GET", `/v1/deliveries/${fresh.id}`, { token: key })).json.attempts).toHaveLength(1);
  });
});
