/**
 * Two data shards (vitest.shards.config.ts: DB and DELIVERY_QUEUE are shard 0, DB_1 and
 * DELIVERY_QUEUE_1 shard 1), through the Worker's own API and real queues: where accounts go,
 * that each account's rows are on its shard only, and that everything works from either.
 */
import { env, exports } from "cloudflare:workers";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { SYSTEM_ACCOUNT_ID } from "../../src/core/operational";
import { call, createSubscription, expectProblem, listAll } from "../worker/harness";
import { deliveryWithAttempts, emit, received, receiverUrl, settledDeliveries, waitFor } from "../worker/delivery-harness";
import { eventKeyOf } from "../../src/db/event-keys";

const shards = { 0: env.DB, 1: env.DB_1! } as const;

let n = 0;
async function accountOn(shard: 0 | 1 | undefined) {
  const name = `shard-${Date.now().toString(36)}-${n++}`;
  const res = await call("POST", "/v1/accounts", { body: { name, ...(shard !== undefined ? { shard } : {}) } });
  expect(res.status, res.text).toBe(201);
  return { id: res.json.id as string, key: res.json.api_key.key as string, shard: res.json.shard as number };
}

/** Rows of `table` whose `column` is `value`, on shard 0 and on shard 1; null where the database has no such table. */
/** An event id as the column stores it (src/db/event-keys.ts): its key in events.id and deliveries.event_id. */
const keyed = (table: string, column: string, value: string) =>
  (table === "events" && column === "id") || (table === "deliveries" && column === "event_id") ? eventKeyOf(value) : value;

async function rowsOn(table: string, column: string, value: string) {
  const count = async (db: D1Database) =>
    (await db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").bind(table).first())
      ? ((await db.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${column} = ?`).bind(keyed(table, column, value)).first<{ n: number }>())?.n ?? 0)
      : null;
  return [await count(shards[0]), await count(shards[1])];
}

/** The deliveries to these subscriptions on each shard (a delivery's account is its subscription's). */
async function deliveriesOn(subscriptionIds: string[]) {
  const count = async (db: D1Database) =>
    (await db
      .prepare("SELECT count(*) AS n FROM deliveries WHERE subscription_id IN (SELECT value FROM json_each(?))")
      .bind(JSON.stringify(subscriptionIds))
      .first<{ n: number }>())?.n ?? 0;
  return [await count(shards[0]), await count(shards[1])];
}

describe("accounts on two shards", () => {
  it("places an account where the operator says, shows its shard, and refuses a shard that does not exist", async () => {
    const on1 = await accountOn(1);
    expect(on1.shard).toBe(1);
    expect((await call("GET", `/v1/accounts/${on1.id}`)).json.shard).toBe(1);
    expect((await call("GET", "/v1/account", { token: on1.key })).json.shard).toBe(1);

    const refused = expectProblem(await call("POST", "/v1/accounts", { body: { name: `shard-x-${n++}`, shard: 2 } }), 422);
    expect(refused.errors).toEqual([{ path: "shard", message: "must be from 0 to 1" }]);
    expect(refused.detail).toContain("0 to 1");
    const negative = expectProblem(await call("POST", "/v1/accounts", { body: { name: `shard-y-${n++}`, shard: -1 } }), 422);
    expect(negative.errors?.[0].path).toBe("shard");
  });

  it("spreads new accounts over the shards: each goes to the one with fewer accounts", async () => {
    const placed = [];
    for (let i = 0; i < 4; i++) placed.push((await accountOn(undefined)).shard);
    const count = async (db: D1Database) =>
      (await db.prepare("SELECT shard, count(*) AS n FROM accounts WHERE id != ? GROUP BY shard").bind(SYSTEM_ACCOUNT_ID).all<{ shard: number; n: number }>())
        .results;
    const load = await count(shards[0]);
    const on = (i: number) => load.find((r) => r.shard === i)?.n ?? 0;
    // Whatever the other tests of this file created before, the spread never leans by more than one.
    expect(Math.abs(on(0) - on(1))).toBeLessThanOrEqual(1);
    expect(new Set(placed).size).toBe(2);
  });

  it("an account on shard 1: subscription, event, delivery and attempts live on shard 1 only, and its receiver verifies the signature", async () => {
    const { id, key } = await accountOn(1);
    const target = receiverUrl("ok");
    const sub = await createSubscription(key, { url: target.url, event_types: ["document.*"] });
    const event = await emit(id, "document.updated", { id: "doc_9" });
    expect(event.deliveries).toBe(1);
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    const [req] = await received(target.key);
    expect(new Webhook(sub.secret).verify(req.body, req.headers)).toMatchObject({ type: "document.updated", data: { id: "doc_9" } });

    expect(await rowsOn("subscriptions", "id", sub.id)).toEqual([0, 1]);
    expect(await rowsOn("events", "id", event.id)).toEqual([0, 1]);
    expect(await rowsOn("deliveries", "id", delivery.id)).toEqual([0, 1]);
    // The account row: the control database's, and shard 1's copy.
    expect(await rowsOn("accounts", "id", id)).toEqual([1, 1]);
    // Its key on the control database, and its copy on shard 1 (services/api-keys).
    expect(await rowsOn("api_keys", "account_id", id)).toEqual([1, 1]);

    // The account reads its log, the operator finds it too; the attempt is recorded.
    expect((await deliveryWithAttempts(delivery.id, key)).attempts).toHaveLength(1);
    expect((await deliveryWithAttempts(delivery.id)).attempts[0]).toMatchObject({ outcome: "success", status_code: 200 });
    const listed = await call("GET", `/v1/events?account_id=${id}`);
    expect(listed.json.data.map((e: { id: string }) => e.id)).toEqual([event.id]);
  });

  it("one account never sees another's, across shards", async () => {
    const a = await accountOn(0);
    const b = await accountOn(1);
    await createSubscription(b.key, { url: receiverUrl("ok").url });
    const event = await emit(b.id);
    const [delivery] = await settledDeliveries(event.id);
    expectProblem(await call("GET", `/v1/deliveries/${delivery.id}`, { token: a.key }), 404);
    expectProblem(await call("GET", `/v1/events/${event.id}`, { token: a.key }), 404);
    expect((await call("GET", "/v1/events", { token: a.key })).json.data).toEqual([]);
    expect((await call("GET", "/v1/subscriptions", { token: a.key })).json.data).toEqual([]);
  });

  it("one call naming accounts on both shards: validated whole, written on each, delivered once each; its Idempotency-Key replays it", async () => {
    const a = await accountOn(0);
    const b = await accountOn(1);
    const ta = receiverUrl("ok");
    const tb = receiverUrl("ok");
    await createSubscription(a.key, { url: ta.url });
    await createSubscription(b.key, { url: tb.url });

    // One bad event (an unknown type) refuses the whole call, naming it; nothing is stored anywhere.
    const events = [
      { account_id: a.id, type: "document.updated", data: { n: 1 } },
      { account_id: b.id, type: "document.updated", data: { n: 2 } },
      { account_id: b.id, type: "no.such.type", data: { n: 3 } },
    ];
    const refused = expectProblem(await call("POST", "/v1/events", { body: { events } }), 422);
    expect(refused.errors).toEqual([{ path: "events[2].type", message: "unknown event type no.such.type" }]);
    expect(await rowsOn("events", "account_id", a.id)).toEqual([0, 0]);
    expect(await rowsOn("events", "account_id", b.id)).toEqual([0, 0]);

    const good = events.slice(0, 2);
    const headers = { "idempotency-key": `both-${n++}` };
    const first = await call("POST", "/v1/events", { body: { events: good }, headers });
    expect(first.status, first.text).toBe(202);
    expect(first.json.data.map((d: { deliveries: number }) => d.deliveries)).toEqual([1, 1]);
    const [ea, eb] = first.json.data.map((d: { id: string }) => d.id);
    expect(await rowsOn("events", "id", ea)).toEqual([1, 0]);
    expect(await rowsOn("events", "id", eb)).toEqual([0, 1]);

    const again = await call("POST", "/v1/events", { body: { events: good }, headers });
    expect(again.status).toBe(202);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.json).toEqual(first.json);
    await settledDeliveries(ea);
    await settledDeliveries(eb);
    expect(await received(ta.key)).toHaveLength(1);
    expect(await received(tb.key)).toHaveLength(1);
    expect(await rowsOn("events", "account_id", b.id)).toEqual([0, 1]);

    // The same key with another body is a conflict, whichever shard remembers it.
    const other = await call("POST", "/v1/events", { body: { events: [good[1], good[0]] }, headers });
    expectProblem(other, 409);
  });

  it("a retry with the Idempotency-Key completes a call one of whose shards was not written", async () => {
    const a = await accountOn(0);
    const b = await accountOn(1);
    const tb = receiverUrl("ok");
    await createSubscription(a.key, { url: receiverUrl("ok").url });
    await createSubscription(b.key, { url: tb.url });
    const good = [
      { account_id: a.id, type: "document.updated", data: { n: 1 } },
      { account_id: b.id, type: "document.updated", data: { n: 2 } },
    ];
    const headers = { "idempotency-key": `half-${n++}` };
    const first = await call("POST", "/v1/events", { body: { events: good }, headers });
    expect(first.status, first.text).toBe(202);
    const eb = first.json.data[1].id as string;
    // As if shard 1's write had failed: its part of the call is not there.
    await settledDeliveries(eb);
    await env.DB_1!.prepare("DELETE FROM deliveries WHERE event_id = ?").bind(eventKeyOf(eb)).run();
    await env.DB_1!.prepare("DELETE FROM events WHERE id = ?").bind(eventKeyOf(eb)).run();
    await env.DB_1!.prepare("DELETE FROM idempotency_keys WHERE account_id = ?").bind(b.id).run();

    const retry = await call("POST", "/v1/events", { body: { events: good }, headers });
    expect(retry.status, retry.text).toBe(202);
    expect(retry.json).toEqual(first.json);
    // Shard 1's event is written again, with the id the first answer gave, and delivered.
    expect(await rowsOn("events", "id", eb)).toEqual([0, 1]);
    expect(await rowsOn("events", "account_id", a.id)).toEqual([1, 0]);
    await settledDeliveries(eb);
    await waitFor("the receiver of shard 1", async () => (await received(tb.key)).length === 2);
  });

  it("an event type added by the operator is usable at once by an account on shard 1 (the catalog's copy)", async () => {
    const { id, key } = await accountOn(1);
    const type = `shardtest.t${n++}`;
    const created = await call("POST", "/v1/event-types", {
      body: { name: type, description: "x", schema: { type: "object", required: ["n"], properties: { n: { type: "integer" } } } },
    });
    expect(created.status, created.text).toBe(201);
    const target = receiverUrl("ok");
    await createSubscription(key, { url: target.url, event_types: [type] });
    // The schema is checked on shard 1's copy.
    const bad = await call("POST", "/v1/events", { body: { account_id: id, type, data: { n: "x" } } });
    expectProblem(bad, 422);
    const event = await emit(id, type, { n: 1 });
    expect(event.deliveries).toBe(1);
    // A change is seen by the next call.
    expect((await call("PATCH", `/v1/event-types/${type}`, { body: { schema: { type: "object", required: ["m"] } } })).status).toBe(200);
    expectProblem(await call("POST", "/v1/events", { body: { account_id: id, type, data: { n: 1 } } }), 422);
    const copy = await env.DB_1!.prepare("SELECT schema FROM event_types WHERE name = ?").bind(type).first<{ schema: string }>();
    expect(JSON.parse(copy!.schema)).toEqual({ type: "object", required: ["m"] });
  });

  it("the sweep sends what shard 1's queue lost, and each shard's sweep stays on its shard", async () => {
    const { id, key } = await accountOn(1);
    const target = receiverUrl("ok");
    const sub = await createSubscription(key, { url: target.url });
    // A pending delivery whose message never reached the queue, due a minute ago.
    const now = Date.now();
    const eventId = `evt_${crypto.randomUUID()}`;
    const deliveryId = `dlv_${crypto.randomUUID()}`;
    await env.DB_1!.batch([
      env.DB_1!.prepare("INSERT INTO events (id, account_id, type, data, timestamp, created_at) VALUES (?, ?, 'document.updated', '{}', ?, ?)").bind(eventKeyOf(eventId), id, now, now - 60_000),
      env.DB_1!
        .prepare(
          "INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, next_attempt_at, created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, 0, ?, ?, ?)",
        )
        .bind(deliveryId, eventKeyOf(eventId), sub.id, now - 60_000, now - 60_000, now - 60_000),
    ]);
    await exports.default.scheduled();
    await waitFor("the swept delivery", async () => (await received(target.key)).length === 1);
    const detail = await waitFor("its record", async () => {
      const d = await deliveryWithAttempts(deliveryId, key);
      return d.status === "delivered" ? d : null;
    });
    expect(detail.attempts).toHaveLength(1);
  });

  it("operational webhooks hear of accounts on either shard, and list their deliveries from both", async () => {
    const target = receiverUrl("ok");
    const created = await call("POST", "/v1/operational-webhooks", { body: { url: target.url, event_types: ["subscription.created"] } });
    expect(created.status, created.text).toBe(201);
    const hook = created.json;
    // Its copy on shard 1, with the same id.
    expect(await rowsOn("subscriptions", "id", hook.id)).toEqual([1, 1]);
    const a = await accountOn(0);
    const b = await accountOn(1);
    const subA = await createSubscription(a.key, { url: receiverUrl("ok").url });
    const subB = await createSubscription(b.key, { url: receiverUrl("ok").url });
    const verifier = new Webhook(hook.secret);
    const told = await waitFor("both subscription.created events", async () => {
      const got = (await received(target.key)).map((r) => verifier.verify(r.body, r.headers) as { type: string; subject: string });
      const subjects = got.map((e) => e.subject);
      return subjects.includes(subA.id) && subjects.includes(subB.id) ? got : null;
    });
    expect(told.every((e) => e.type === "subscription.created")).toBe(true);
    const log = await call("GET", `/v1/operational-webhooks/${hook.id}/deliveries?limit=100`);
    expect(log.status, log.text).toBe(200);
    expect(log.json.data.length).toBeGreaterThanOrEqual(2);
    // Paused on the control database: the copy is paused too, and shard 1's events are recorded as skipped.
    expect((await call("PATCH", `/v1/operational-webhooks/${hook.id}`, { body: { active: false } })).status).toBe(200);
    const copy = await env.DB_1!.prepare("SELECT active FROM subscriptions WHERE id = ?").bind(hook.id).first<{ active: number }>();
    expect(copy!.active).toBe(0);
    expect((await call("DELETE", `/v1/operational-webhooks/${hook.id}`)).status).toBe(204);
    expect(await rowsOn("subscriptions", "id", hook.id)).toEqual([0, 0]);
  });

  it("a key is checked on its account's shard, on its copy, and revoking it stops it at once", async () => {
    const { id, key } = await accountOn(1);
    const second = await call("POST", `/v1/accounts/${id}/keys`);
    expect(second.status, second.text).toBe(201);
    expect(await rowsOn("api_keys", "id", second.json.id)).toEqual([1, 1]);
    // Its first request finds it on the control database; the next on shard 1's copies: a plan
    // planted in shard 1's copy of the account alone shows which answered.
    expect((await call("GET", "/v1/account", { token: second.json.key })).json.plan).toBe("pro");
    await env.DB_1!.prepare("UPDATE accounts SET plan = 'business' WHERE id = ?").bind(id).run();
    expect((await call("GET", "/v1/account", { token: second.json.key })).json.plan).toBe("business");
    await env.DB_1!.prepare("UPDATE accounts SET plan = 'pro' WHERE id = ?").bind(id).run();

    expect((await call("DELETE", `/v1/accounts/${id}/keys/${second.json.id}`)).status).toBe(204);
    expect(await rowsOn("api_keys", "id", second.json.id)).toEqual([0, 0]);
    expectProblem(await call("GET", "/v1/account", { token: second.json.key }), 401);
    expect((await call("GET", "/v1/account", { token: key })).status).toBe(200);
  });

  it("deleting an account on shard 1 removes its rows from both databases", async () => {
    const { id, key } = await accountOn(1);
    const sub = await createSubscription(key, { url: receiverUrl("ok").url });
    const event = await emit(id);
    await settledDeliveries(event.id);
    expect(await deliveriesOn([sub.id])).toEqual([0, 1]);
    expect((await call("DELETE", `/v1/accounts/${id}`)).status).toBe(204);
    for (const [table, column] of [
      ["accounts", "id"],
      ["subscriptions", "account_id"],
      ["events", "account_id"],
    ]) {
      expect(await rowsOn(table, column, id), table).toEqual([0, 0]);
    }
    expect(await deliveriesOn([sub.id])).toEqual([0, 0]);
    expect(await rowsOn("api_keys", "account_id", id)).toEqual([0, 0]);
    expectProblem(await call("GET", "/v1/account", { token: key }), 401);
  });
});

describe("moving an account", () => {
  it("moves an account while its events flow: every event delivered once, its whole log on the new shard, nothing left on the old", async () => {
    const { id, key } = await accountOn(0);
    const targets = [receiverUrl("ok"), receiverUrl("ok")];
    const subscriptionIds: string[] = [];
    for (const t of targets) subscriptionIds.push((await createSubscription(key, { url: t.url })).id);
    // A receiver that always fails: its deliveries are retried (1 s apart here) across the move, then switched off.
    const failing = receiverUrl("status/500");
    const failingSub = await createSubscription(key, { url: failing.url });
    subscriptionIds.push(failingSub.id);
    const other = await accountOn(0);
    const otherTarget = receiverUrl("ok");
    await createSubscription(other.key, { url: otherTarget.url });

    // Calls of 5 events, each retried with its Idempotency-Key while the move holds the account (503, Retry-After).
    const eventIds: string[] = [];
    let refusedWhileFrozen = 0;
    const emitCall = async (i: number) => {
      const events = Array.from({ length: 5 }, (_, j) => ({ account_id: id, type: "document.updated", data: { call: i, n: j } }));
      for (;;) {
        const res = await call("POST", "/v1/events", { body: { events }, headers: { "idempotency-key": `move-${id}-${i}` } });
        if (res.status === 202) return res.json.data.map((d: { id: string }) => d.id) as string[];
        expectProblem(res, 503);
        expect(res.headers.get("retry-after")).toBe("2");
        refusedWhileFrozen++;
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    for (let i = 0; i < 10; i++) eventIds.push(...(await emitCall(i)));

    const moved = await call("POST", `/v1/accounts/${id}/move`, { body: { shard: 1 } });
    expect(moved.status, moved.text).toBe(202);
    expect(moved.json).toEqual({ moving_to: 1 });
    expectProblem(await call("POST", `/v1/accounts/${id}/move`, { body: { shard: 1 } }), 409);
    // Its writes wait while it is frozen; the other account's go on.
    for (let i = 10; i < 30; i++) {
      eventIds.push(...(await emitCall(i)));
      await emit(other.id);
    }
    const account = await waitFor("the move to end", async () => {
      const res = await call("GET", `/v1/accounts/${id}`);
      return res.json.moving_to === null && res.json.shard === 1 ? res.json : null;
    }, 30_000);
    expect(account.shard).toBe(1);
    for (let i = 30; i < 40; i++) eventIds.push(...(await emitCall(i)));

    // Every (event, subscription) pair reached its receiver once, under one delivery id.
    for (const t of targets) {
      const got = await waitFor(`all ${eventIds.length} events at ${t.key}`, async () => {
        const list = await received(t.key);
        return list.length >= eventIds.length ? list : null;
      }, 30_000);
      await new Promise((r) => setTimeout(r, 500));
      const final = await received(t.key);
      expect(final).toHaveLength(eventIds.length);
      expect(new Set(final.map((r) => r.headers["webhook-id"])).size).toBe(eventIds.length);
      const calls = final.map((r) => JSON.parse(r.body).data).map((d: { call: number; n: number }) => `${d.call}.${d.n}`);
      expect(new Set(calls).size).toBe(eventIds.length);
    }
    // The failing receiver: each of its deliveries ends on shard 1 (failed, or skipped once the
    // subscription was switched off), and got exactly as many requests as its recorded attempts:
    // retries went on across the move, none twice.
    const final = await waitFor("the failing subscription's deliveries to end", async () => {
      const rows = (
        await env.DB_1!.prepare("SELECT id, status, attempts_count FROM deliveries WHERE subscription_id = ?").bind(failingSub.id).all<{ id: string; status: string; attempts_count: number }>()
      ).results;
      return rows.length === eventIds.length && rows.every((r) => r.status === "failed" || r.status === "skipped") ? rows : null;
    }, 30_000);
    const requests = new Map<string, number>();
    for (const r of await received(failing.key)) requests.set(r.headers["webhook-id"], (requests.get(r.headers["webhook-id"]) ?? 0) + 1);
    for (const d of final) expect(requests.get(d.id) ?? 0, d.id).toBe(d.attempts_count);
    expect([...requests.values()].reduce((a, b) => a + b, 0)).toBeGreaterThan(0);

    // The whole log is on shard 1, none of it on shard 0; the other account is untouched.
    expect(await rowsOn("events", "account_id", id)).toEqual([0, eventIds.length]);
    expect(await deliveriesOn(subscriptionIds)).toEqual([0, 3 * eventIds.length]);
    expect(await rowsOn("subscriptions", "account_id", id)).toEqual([0, 3]);
    expect(await rowsOn("idempotency_keys", "account_id", id)).toEqual([0, 40]);
    // Its key stays on the control database (shard 0) and has its copy on shard 1 now.
    expect(await rowsOn("api_keys", "account_id", id)).toEqual([1, 1]);
    const { items: listed } = await listAll(`/v1/events?account_id=${id}`, undefined, 100);
    expect(listed.map((e: { id: string }) => e.id).sort()).toEqual([...eventIds].sort());
    const mine = await call("GET", "/v1/events?limit=100", { token: key });
    expect(mine.json.data).toHaveLength(100);
    const firstEvent = (await call("GET", `/v1/events/${eventIds[0]}`, { token: key })).json;
    expect(firstEvent.deliveries).toHaveLength(3);
    for (const d of firstEvent.deliveries) if (d.subscription_id !== failingSub.id) expect(d.status).toBe("delivered");
    expect(await rowsOn("events", "account_id", other.id)).toEqual([20, 0]);
    expect(await received(otherTarget.key)).toHaveLength(20);
    // A replayed call answers as before, from the new shard.
    const replay = await call("POST", "/v1/events", {
      body: { events: Array.from({ length: 5 }, (_, j) => ({ account_id: id, type: "document.updated", data: { call: 0, n: j } })) },
      headers: { "idempotency-key": `move-${id}-0` },
    });
    expect(replay.headers.get("idempotent-replayed")).toBe("true");
    expect(replay.json.data.map((d: { id: string }) => d.id)).toEqual(eventIds.slice(0, 5));
    console.log(`move test: ${refusedWhileFrozen} calls answered 503 while the account was frozen`);
  });

  it("while a move has an account's rows on both shards, the operator reads each once, as the shard it lives on has it", async () => {
    const { id, key } = await accountOn(1);
    await createSubscription(key, { url: receiverUrl("ok").url });
    const event = await emit(id);
    const [delivery] = await settledDeliveries(event.id);
    // As a move leaves them for a while: a stale copy on the shard it left (pending there, delivered here).
    for (const table of ["events", "deliveries"]) {
      const row = await env.DB_1!.prepare(`SELECT * FROM ${table} WHERE id = ?`).bind(table === "events" ? eventKeyOf(event.id) : delivery.id).first<Record<string, unknown>>();
      const cols = Object.keys(row!);
      // (D1 returns a blob, an event's key, as an array of bytes.)
      const values = cols.map((c) => (table === "deliveries" && c === "status" ? "pending" : Array.isArray(row![c]) ? new Uint8Array(row![c] as number[]) : row![c]));
      await env.DB.prepare(`INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`).bind(...values).run();
    }
    expect((await call("GET", `/v1/deliveries/${delivery.id}`)).json.status).toBe("delivered");
    const { items } = await listAll("/v1/events", undefined, 100);
    expect(items.filter((e: { id: string }) => e.id === event.id)).toHaveLength(1);
    expect((await call("GET", `/v1/events/${event.id}`)).json.deliveries[0].status).toBe("delivered");
  });

  it("refuses a move to a shard that does not exist or to where the account is, and 404s the system account", async () => {
    const { id } = await accountOn(0);
    expectProblem(await call("POST", `/v1/accounts/${id}/move`, { body: { shard: 2 } }), 422);
    expectProblem(await call("POST", `/v1/accounts/${id}/move`, { body: { shard: 0 } }), 422);
    expectProblem(await call("POST", `/v1/accounts/${SYSTEM_ACCOUNT_ID}/move`, { body: { shard: 1 } }), 404);
  });
});
