/**
 * The lifecycle's statements against real D1: each transition moves exactly the statuses
 * TRANSITIONS (src/core/delivery-state.ts) says it starts from, to the ones it may end in,
 * and leaves every other delivery alone.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { sql } from "drizzle-orm";
import { SQLiteSyncDialect } from "drizzle-orm/sqlite-core";
import type { Config } from "../../src/config";
import {
  batchLeaseMs,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  leaseMs,
  TRANSITIONS,
  type TransitionName,
} from "../../src/core/delivery-state";
import { HORIZON_MS, LATE_MS } from "../../src/core/throttle";
import { attemptIdOf } from "../../src/core/ids";
import { database, sqlAll, sqlRun } from "../../src/db/client";
import * as lifecycle from "../../src/delivery/lifecycle";
import { deliveryWithAttempts, emit, receiverUrl, settledDeliveries } from "./delivery-harness";
import { call, createAccount, createSubscription } from "./harness";
import { eventKeyOf } from "../../src/db/event-keys";

const LONG_AGO = 60_000;
const newSlot = () => `slot_${crypto.randomUUID()}`;

/** One delivery in each status, all due, the one in flight with its lease run out. */
async function oneOfEach() {
  const { id: accountId, key } = await createAccount();
  const sub = await createSubscription(key);
  const now = Date.now();
  const eventId = `evt_${crypto.randomUUID()}`;
  const ids = Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, `dlv_${crypto.randomUUID()}`])) as Record<DeliveryStatus, string>;
  await env.DB.batch([
    env.DB.prepare(
      "INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES (?, ?, 'document.updated', NULL, '{}', ?, ?)",
    ).bind(eventKeyOf(eventId), accountId, now, now),
    ...DELIVERY_STATUSES.map((status) => {
      const waiting = status === "pending" || status === "in_flight";
      return env.DB.prepare(
        `INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base,
          next_attempt_at, lease_until, created_at, updated_at) VALUES (?, ?, ?, ?, 1, 0, ?, ?, ?, ?)`,
      ).bind(
        ...[ids[status], eventKeyOf(eventId), sub.id, status],
        waiting ? now - LONG_AGO : null,
        status === "in_flight" ? now - 1 : null,
        ...[now - LONG_AGO, now],
      );
    }),
  ]);
  return { accountId, subscriptionId: sub.id as string, eventId, ids, now };
}

/** As every reader sees them (lifecycle's statusSql): in flight while a lease holds it. */
async function statuses(ids: Record<DeliveryStatus, string>, now = Date.now()) {
  const results = await sqlAll<{ id: string; status: DeliveryStatus }>(env.DB, sql`
    SELECT id, ${lifecycle.statusSql(sql.raw("d"), now)} AS status FROM deliveries d WHERE id IN (SELECT value FROM json_each(${JSON.stringify(Object.values(ids))}))`);
  const byId = new Map(results.map((r) => [r.id, r.status]));
  return Object.fromEntries(DELIVERY_STATUSES.map((s) => [s, byId.get(ids[s])])) as Record<DeliveryStatus, DeliveryStatus>;
}

/** Runs `transition` over one delivery of each status: the moved ones are exactly those TRANSITIONS[name] starts from. */
type Seeded = Awaited<ReturnType<typeof oneOfEach>>;

async function expectMoves(name: TransitionName, transition: (seeded: Seeded) => Promise<unknown>) {
  const seeded = await oneOfEach();
  await transition(seeded);
  const after = await statuses(seeded.ids);
  const moved = DELIVERY_STATUSES.filter((s) => after[s] !== s);
  expect(moved, name).toEqual(DELIVERY_STATUSES.filter((s) => (TRANSITIONS[name].from as readonly string[]).includes(s)));
  for (const s of moved) expect(TRANSITIONS[name].to, `${name} from ${s}`).toContain(after[s]);
  return after;
}

describe("each transition moves what the table says, and nothing else", () => {
  it("claim: a due pending delivery goes in flight", async () => {
    await expectMoves("claim", ({ ids, now }) =>
      lifecycle.claim(env, Object.values(ids), now, { byPosition: Object.values(ids).map(() => 30_000), throttled: 30_000 }, newSlot()),
    );
  });

  it("skip: a subscription's pending deliveries, not the one in flight", async () => {
    await expectMoves("skip", ({ subscriptionId, now }) => lifecycle.skipPendingOfSubscription(env, subscriptionId, now));
  });

  it("skip: a listen session's pending deliveries", async () => {
    await expectMoves("skip", async ({ subscriptionId, now }) => {
      const sessionId = `lsn_${crypto.randomUUID()}`;
      await env.DB.prepare("UPDATE subscriptions SET listen_session_id = ? WHERE id = ?").bind(sessionId, subscriptionId).run();
      await database(env.DB).batch([lifecycle.skipPendingOfSession(env, sessionId, now)]);
    });
  });

  it("releaseLease: in flight past its lease is pending again, and the sweep finds it due", async () => {
    const after = await expectMoves("releaseLease", async ({ ids, now }) => {
      const [released, due] = await database(env.DB).batch([
        lifecycle.releaseExpiredLeasesStatement(env, now),
        lifecycle.dueStatement(env, now - 5_000, 5_000),
      ]);
      expect(released.map((r) => r.id)).toContain(ids.in_flight);
      expect(due.map((r) => r.id)).toContain(ids.pending);
      expect(due.map((r) => r.id)).not.toContain(ids.delivered);
    });
    expect(after.in_flight).toBe("pending");
  });

  it("redeliver: any finished delivery starts a fresh series; one still in progress is refused", async () => {
    await expectMoves("redeliver", async ({ ids, now }) => {
      for (const s of DELIVERY_STATUSES) {
        const restarted = await lifecycle.redeliver(env, ids[s], now);
        const finished = (TRANSITIONS.redeliver.from as readonly string[]).includes(s);
        expect(restarted, s).toEqual(finished ? { status: "pending", nextAttemptAt: now } : null);
      }
    });
  });

  it("recover: the failed and skipped ones of a subscription, not the delivered", async () => {
    await expectMoves("recover", ({ subscriptionId, now }) => lifecycle.recover(env, subscriptionId, 0, now, now, 1000));
  });

  it("settle: the verdict of an attempt on a claimed delivery", async () => {
    const verdicts = [{ kind: "delivered" }, { kind: "failed" }, { kind: "retry", delaySeconds: 1, nextAttemptAt: 1 }] as const;
    for (const verdict of verdicts) {
      const { ids, now } = await oneOfEach();
      const attempt = {
        id: `att_${crypto.randomUUID()}`,
        deliveryId: ids.in_flight,
        number: 2,
        startedAt: now,
        durationMs: 1,
        outcome: verdict.kind === "delivered" ? ("success" as const) : ("http_status" as const),
        statusCode: verdict.kind === "delivered" ? 200 : 500,
        error: null,
        responseHeaders: null,
        responseBody: null,
      };
      await lifecycle.settle(env, [{ attempt, verdict }], now);
      const after = await statuses(ids);
      expect(TRANSITIONS.settle.to).toContain(after.in_flight);
      expect(after.in_flight).toBe(verdict.kind === "retry" ? "pending" : verdict.kind);
      expect(DELIVERY_STATUSES.filter((s) => s !== "in_flight").every((s) => after[s] === s)).toBe(true);
    }
  });

  it("defer: a claimed delivery the throttle did not send waits again, no attempt counted", async () => {
    let deferredId = "";
    const after = await expectMoves("defer", async ({ ids, now }) => {
      deferredId = ids.in_flight;
      await lifecycle.defer(env, Object.values(ids).map((id) => [id, now + 7_000] as [string, number]), now);
    });
    expect(after.in_flight).toBe("pending");
    const row = await env.DB.prepare("SELECT next_attempt_at, lease_until, attempts_count FROM deliveries WHERE id = ?").bind(deferredId).first();
    expect(row).toMatchObject({ lease_until: null, attempts_count: 1 });
    expect(row!.next_attempt_at).toBeGreaterThan(Date.now() + 5_000);
  });

  it("create: pending and skipped, as emit decides", async () => {
    const { accountId, subscriptionId, eventId, now } = await oneOfEach();
    const rows = TRANSITIONS.create.to.map((status) => ({
      id: `dlv_${crypto.randomUUID()}`,
      eventId,
      subscriptionId,
      accountId,
      status,
    }));
    await database(env.DB).batch([lifecycle.createStatement(env, rows, now)]);
    for (const row of rows) {
      const stored = await env.DB.prepare("SELECT status, next_attempt_at, attempts_count FROM deliveries WHERE id = ?")
        .bind(row.id)
        .first();
      // Due when created, either way with no next_attempt_at: no deliveries_due entry (NewDelivery).
      expect(stored).toEqual({ status: row.status, next_attempt_at: null, attempts_count: 0 });
    }
  });

  it("create, written late: a pending delivery is due at its created_at, so no sweep's mark can pass it unseen", async () => {
    const { accountId, subscriptionId, eventId } = await oneOfEach();
    // A statement that runs 20 s after its call's clock read (a group commit held up): past half the grace.
    const late = Date.now() - 20_000;
    const rows = TRANSITIONS.create.to.map((status) => ({ id: `dlv_${crypto.randomUUID()}`, eventId, subscriptionId, accountId, status }));
    await database(env.DB).batch([lifecycle.createStatement(env, rows, late)]);
    const stored = async (id: string) =>
      env.DB.prepare("SELECT status, next_attempt_at FROM deliveries WHERE id = ?").bind(id).first<{ status: string; next_attempt_at: number | null }>();
    expect(await stored(rows[0].id)).toEqual({ status: "pending", next_attempt_at: late });
    expect(await stored(rows[1].id)).toEqual({ status: "skipped", next_attempt_at: null });
    // The fast path's statement, which matches in SQL, alike; and on time, neither writes one.
    const [fanned] = await database(env.DB).batch([lifecycle.fanOutStatement(env, [[eventId, accountId, "document.updated", null]], late)]);
    expect(fanned.map((d) => d.subscription_id)).toEqual([subscriptionId]);
    expect(await stored(fanned[0].id)).toEqual({ status: "pending", next_attempt_at: late });
    const [onTime] = await database(env.DB).batch([lifecycle.fanOutStatement(env, [[eventId, accountId, "document.updated", null]], Date.now())]);
    expect(await stored(onTime[0].id)).toEqual({ status: "pending", next_attempt_at: null });
  });
});

describe("the claim's lease", () => {
  it("each delivery is leased by its place in the send order, a throttled one for the whole batch, and comes back in that order", async () => {
    const { id: accountId, key } = await createAccount();
    const plain = await createSubscription(key);
    const throttled = await createSubscription(key);
    await env.DB.prepare("UPDATE subscriptions SET throttle_rate = 5 WHERE id = ?").bind(throttled.id).run();
    const now = Date.now();
    const eventId = `evt_${crypto.randomUUID()}`;
    // The throttled one stands first in the batch; the consumer sends it after all the others.
    const order = [throttled.id, ...Array(8).fill(plain.id)].map((subscriptionId) => ({ id: `dlv_${crypto.randomUUID()}`, subscriptionId }));
    await database(env.DB).batch([
      sqlRun(env.DB, sql`INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at)
        VALUES (${eventKeyOf(eventId)}, ${accountId}, 'document.updated', NULL, '{}', ${now}, ${now})`),
      lifecycle.createStatement(
        env,
        order.map(({ id, subscriptionId }) => ({ id, eventId, subscriptionId, accountId, status: "pending" as const })),
        now,
      ),
    ]);
    const config = { deliveryTimeoutMs: 10_000 } as Config;
    const ids = order.map((d) => d.id);
    const slot = newSlot();
    const claimed = await lifecycle.claim(
      env,
      ids,
      now,
      { byPosition: ids.map((_, i) => leaseMs(config, i)), throttled: batchLeaseMs(config, ids.length) },
      slot,
    );
    expect(claimed.map((d) => d.id)).toEqual(ids);
    // One row written for the whole batch: the slot's lease, listing [id, lease end, attempts_count].
    const leaseRow = async () => (await env.DB.prepare("SELECT held FROM leases WHERE slot = ?").bind(slot).first<{ held: string }>())!.held;
    const held = JSON.parse(await leaseRow()) as [string, number, number][];
    const leaseOf = new Map(held.map(([id, until]) => [id, until - now]));
    expect(held.every(([, , attempts]) => attempts === 0)).toBe(true);
    expect(ids.map((id) => leaseOf.get(id))).toEqual([
      50_000 + HORIZON_MS + LATE_MS, // 9 deliveries: two rounds, then the permit's wait
      ...[1, 2, 3, 4, 5].map(() => 40_000),
      ...[6, 7, 8].map(() => 50_000),
    ]);
    // The deliveries' rows are not written; every reader sees them in flight.
    const rows = await sqlAll<{ status: string; raw: string; updated_at: number }>(env.DB, sql`
      SELECT ${lifecycle.statusSql(sql.raw("d"), now + 1)} AS status, status AS raw, updated_at FROM deliveries d
      WHERE id IN (SELECT value FROM json_each(${JSON.stringify(ids)}))`);
    expect(rows.map((r) => [r.status, r.raw, r.updated_at])).toEqual(ids.map(() => ["in_flight", "pending", now]));
    // A second copy of the same message, in another batch, claims nothing, and leaves the lease as it is.
    const before = await leaseRow();
    expect(await lifecycle.claim(env, ids, now + 1, { byPosition: ids.map(() => 1), throttled: 1 }, newSlot())).toEqual([]);
    expect(await leaseRow()).toBe(before);
    // Once a delivery's lease ends, it may be claimed again.
    const late = now + 40_001;
    const again = await lifecycle.claim(env, ids, late, { byPosition: ids.map(() => 30_000), throttled: 30_000 }, newSlot());
    expect(again.map((d) => d.id)).toEqual(ids.slice(1, 6));
  });

  it("whether a lease holds a delivery is read once per statement, not once per delivery", async () => {
    const query = new SQLiteSyncDialect().sqlToQuery(
      sql`SELECT ${lifecycle.statusSql(sql.raw("d"), 1)} FROM deliveries d WHERE d.subscription_id = ${"sub_x"}`,
    );
    const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
      .bind(...query.params)
      .all<{ detail: string }>();
    const plan = results.map((r) => r.detail);
    expect(plan).toContainEqual(expect.stringMatching(/^LIST SUBQUERY/));
    expect(plan.filter((d) => /CORRELATED/.test(d))).toEqual([]);
  });

  it("a claim beside live leases reads each held delivery once, not once per delivery it asks about", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key);
    const now = Date.now();
    const eventId = `evt_${crypto.randomUUID()}`;
    const ids = Array.from({ length: 160 }, () => `dlv_${crypto.randomUUID()}`);
    await database(env.DB).batch([
      sqlRun(env.DB, sql`INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at)
        VALUES (${eventKeyOf(eventId)}, ${accountId}, 'document.updated', NULL, '{}', ${now}, ${now})`),
      lifecycle.createStatement(env, ids.map((id) => ({ id, eventId, subscriptionId: sub.id, accountId, status: "pending" as const })), now),
    ]);
    const leases = { byPosition: ids.slice(0, 80).map(() => 60_000), throttled: 60_000 };
    await lifecycle.claim(env, ids.slice(0, 80), now, leases, newSlot());
    // D1's own count of the rows the claim's statements read, as metrics mode and the bench take it.
    let rowsRead = 0;
    const counted = new Proxy(env.DB, {
      get(db, name) {
        if (name === "batch")
          return async (statements: D1PreparedStatement[]) => {
            const results = await db.batch(statements);
            rowsRead += results.reduce((n, r) => n + r.meta.rows_read, 0);
            return results;
          };
        const value = Reflect.get(db, name);
        return typeof value === "function" ? value.bind(db) : value;
      },
    });
    const claimed = await lifecycle.claim({ ...env, DB: counted }, ids.slice(80), now + 1, leases, newSlot());
    expect(claimed).toHaveLength(80);
    // About 1,500: each statement reads its 80 candidates and the 80 held once. Once per
    // candidate and held delivery it would be 80 x 80 a statement, over 13,000 in all.
    expect(rowsRead).toBeLessThan(3_000);
  });

  /** A delivery claimed in a batch of its own, due, in flight; with its subscription. */
  async function heldDelivery() {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key);
    const now = Date.now();
    const eventId = `evt_${crypto.randomUUID()}`;
    const id = `dlv_${crypto.randomUUID()}`;
    await database(env.DB).batch([
      sqlRun(env.DB, sql`INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at)
        VALUES (${eventKeyOf(eventId)}, ${accountId}, 'document.updated', NULL, '{}', ${now}, ${now})`),
      lifecycle.createStatement(env, [{ id, eventId, subscriptionId: sub.id, status: "pending" }], now),
    ]);
    const claimed = await lifecycle.claim(env, [id], now, { byPosition: [60_000], throttled: 60_000 }, newSlot());
    expect(claimed.map((d) => d.id)).toEqual([id]);
    const status = async (at = Date.now()) =>
      (await sqlAll<{ status: string }>(env.DB, sql`SELECT ${lifecycle.statusSql(sql.raw("d"), at)} AS status FROM deliveries d WHERE id = ${id}`))[0]
        .status;
    expect(await status()).toBe("in_flight");
    return { id, key, subscriptionId: sub.id as string, now, status };
  }

  it("the API shows a held delivery in flight, in its detail and its log's filters, and pending once its attempt is recorded", async () => {
    const { id, key, subscriptionId, now } = await heldDelivery();
    const listed = async (status: string) =>
      ((await call("GET", `/v1/subscriptions/${subscriptionId}/deliveries?status=${status}`, { token: key })).json as { data: { id: string }[] }).data.map(
        (d) => d.id,
      );
    expect((await call("GET", `/v1/deliveries/${id}`, { token: key })).json).toMatchObject({ id, status: "in_flight" });
    expect(await listed("in_flight")).toEqual([id]);
    expect(await listed("pending")).toEqual([]);
    await lifecycle.settle(env, [{ attempt: attemptOf(id, now), verdict: { kind: "retry", delaySeconds: 1, nextAttemptAt: now + 1000 } }], now + 5);
    expect((await call("GET", `/v1/deliveries/${id}`, { token: key })).json).toMatchObject({ id, status: "pending" });
    expect(await listed("in_flight")).toEqual([]);
    expect(await listed("pending")).toEqual([id]);
  });

  const attemptOf = (deliveryId: string, startedAt: number) => ({
    id: `att_${crypto.randomUUID()}`,
    deliveryId,
    number: 1,
    startedAt,
    durationMs: 1,
    outcome: "http_status" as const,
    statusCode: 500,
    error: null,
    responseHeaders: null,
    responseBody: null,
  });

  it.each([
    ["with its id, number and start (before 2026-12-02)", true],
    ["with its number and start (before 2026-12-02)", false],
  ])("a last attempt written %s reads the same in the API and in attempts once the next attempts move it out", async (_, withId) => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key);
    const now = Date.now();
    const eventId = `evt_${crypto.randomUUID()}`;
    const id = `dlv_${crypto.randomUUID()}`;
    const legacyId = withId ? `att_${crypto.randomUUID()}` : attemptIdOf(id, 1);
    const fields = [1, now - 2000, 12, "http_status", 500, null, { "content-type": "text/plain" }, "boom"];
    const legacy = JSON.stringify(withId ? [legacyId, ...fields] : fields);
    await env.DB.batch([
      env.DB.prepare(
        "INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES (?, ?, 'document.updated', NULL, '{}', ?, ?)",
      ).bind(eventKeyOf(eventId), accountId, now, now),
      env.DB.prepare(
        `INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, next_attempt_at,
          last_attempt, created_at, updated_at) VALUES (?, ?, ?, 'pending', 1, 0, ?, ?, ?, ?)`,
      ).bind(id, eventKeyOf(eventId), sub.id, now, legacy, now - 3000, now - 2000),
    ]);
    const first = {
      id: legacyId, number: 1, started_at: new Date(now - 2000).toISOString(), duration_ms: 12, outcome: "http_status", status_code: 500,
      response_headers: { "content-type": "text/plain" }, response_body: "boom",
    };
    const attempts = async () => (await call("GET", `/v1/deliveries/${id}`, { token: key })).json.attempts;
    expect(await attempts()).toEqual([expect.objectContaining(first)]);

    // The second attempt is written in today's layout, its start relative to the delivery's created_at.
    const second = { ...attemptOf(id, now + 100), id: attemptIdOf(id, 2), number: 2, statusCode: 503 };
    await lifecycle.settle(env, [{ attempt: second, verdict: { kind: "retry", delaySeconds: 1, nextAttemptAt: now + 1000 } }], now + 105);
    const secondShown = { id: attemptIdOf(id, 2), number: 2, started_at: new Date(now + 100).toISOString(), duration_ms: 1, status_code: 503 };
    expect(await attempts()).toEqual([expect.objectContaining(first), expect.objectContaining(secondShown)]);
    const [stored] = await sqlAll<{ last_attempt: string }>(env.DB, sql`SELECT last_attempt FROM deliveries WHERE id = ${id}`);
    expect(JSON.parse(stored.last_attempt)).toEqual([3100, 1, "http_status", 503, null, null, null]);

    const third = { ...attemptOf(id, now + 1200), id: attemptIdOf(id, 3), number: 3, outcome: "success" as const, statusCode: 200 };
    await lifecycle.settle(env, [{ attempt: third, verdict: { kind: "delivered" } }], now + 1205);
    expect(await attempts()).toEqual([
      expect.objectContaining(first),
      expect.objectContaining(secondShown),
      expect.objectContaining({ id: attemptIdOf(id, 3), number: 3, started_at: new Date(now + 1200).toISOString(), status_code: 200 }),
    ]);
    const moved = await sqlAll(env.DB, sql`SELECT id, number, started_at, duration_ms, status_code FROM attempts WHERE delivery_id = ${id} ORDER BY number`);
    expect(moved).toEqual([
      { id: legacyId, number: 1, started_at: now - 2000, duration_ms: 12, status_code: 500 },
      { id: attemptIdOf(id, 2), number: 2, started_at: now + 100, duration_ms: 1, status_code: 503 },
    ]);
  });

  it("a settled delivery is free at once, though its batch's lease runs on: its retry is claimed when due", async () => {
    const { id, now, status } = await heldDelivery();
    await lifecycle.settle(env, [{ attempt: attemptOf(id, now), verdict: { kind: "retry", delaySeconds: 1, nextAttemptAt: now + 1000 } }], now + 5);
    expect(await status()).toBe("pending");
    const retry = await lifecycle.claim(env, [id], now + 1000, { byPosition: [60_000], throttled: 60_000 }, newSlot());
    expect(retry.map((d) => [d.id, d.attemptNumber])).toEqual([[id, 2]]);
  });

  it("a deferred delivery leaves its lease: pending, and claimed again when its time comes", async () => {
    const { id, now, status } = await heldDelivery();
    await lifecycle.defer(env, [[id, now + 3000]], now + 5);
    expect(await status()).toBe("pending");
    expect(await lifecycle.claim(env, [id], now + 1000, { byPosition: [60_000], throttled: 60_000 }, newSlot())).toEqual([]); // not yet due
    const later = await lifecycle.claim(env, [id], now + 3000, { byPosition: [60_000], throttled: 60_000 }, newSlot());
    expect(later.map((d) => [d.id, d.attemptNumber])).toEqual([[id, 1]]);
  });

  it("a held delivery is neither skipped nor found due by the sweep until its lease ends", async () => {
    const { id, subscriptionId, now, status } = await heldDelivery();
    await lifecycle.skipPendingOfSubscription(env, subscriptionId, now + 5);
    expect(await status()).toBe("in_flight");
    await env.DB.prepare("UPDATE deliveries SET next_attempt_at = created_at WHERE id = ?").bind(id).run(); // as the sweep promotes it
    expect((await lifecycle.dueStatement(env, now + 50_000, 100, now + 50_000)).map((r) => r.id)).not.toContain(id);
    expect((await lifecycle.dueStatement(env, now + 60_001, 100, now + 60_001)).map((r) => r.id)).toContain(id);
    expect(await status(now + 60_001)).toBe("pending");
  });
});

describe("where attempts are kept", () => {
  const attemptRows = (deliveryId: string) =>
    env.DB.prepare("SELECT number FROM attempts WHERE delivery_id = ? ORDER BY number").bind(deliveryId).all<{ number: number }>();

  it("a delivery that succeeds at once writes no attempts row; the log still shows its attempt", async () => {
    const { key, id: accountId } = await createAccount();
    await createSubscription(key, { url: receiverUrl("ok").url });
    const event = await emit(accountId);
    const [delivery] = await settledDeliveries(event.id);
    expect((await attemptRows(delivery.id)).results).toEqual([]);
    const { attempts } = await deliveryWithAttempts(delivery.id, key);
    expect(attempts).toMatchObject([{ id: expect.stringMatching(/^att_/), number: 1, outcome: "success", status_code: 200 }]);
    expect(attempts[0].response_headers).toEqual(expect.objectContaining({ "content-type": expect.stringContaining("json") }));
  });

  it("each new attempt moves the one before it to the attempts table; the log lists them all in order", async () => {
    const { key, id: accountId } = await createAccount();
    await createSubscription(key, { url: receiverUrl("flaky/2").url });
    const event = await emit(accountId);
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    expect((await attemptRows(delivery.id)).results).toEqual([{ number: 1 }, { number: 2 }]);
    const { attempts } = await deliveryWithAttempts(delivery.id, key);
    expect(attempts.map((a: { number: number; outcome: string; status_code: number }) => [a.number, a.outcome, a.status_code])).toEqual([
      [1, "http_status", 500],
      [2, "http_status", 500],
      [3, "success", 200],
    ]);
    expect(new Set(attempts.map((a: { id: string }) => a.id)).size).toBe(3);
  });
});

describe("the sweep's scan for new deliveries", () => {
  it("reads one range of deliveries_subscription per subscription, never the whole log", async () => {
    const query = new SQLiteSyncDialect().sqlToQuery(sql`SELECT id FROM (${lifecycle.freshUnfinishedSql(sql`${1}`, sql`${2}`)})`);
    const { results } = await env.DB.prepare(`EXPLAIN QUERY PLAN ${query.sql}`)
      .bind(...query.params)
      .all<{ detail: string }>();
    const plan = results.map((r) => r.detail);
    expect(plan.filter((d) => /\bd\b/.test(d))).toEqual([expect.stringMatching(/^SEARCH d USING INDEX deliveries_subscription \(subscription_id=\? AND created_at>\? AND created_at<\?\)/)]);
  });

  it("of one account, gives each new unfinished delivery its created_at and leaves the finished and the older alone", async () => {
    const { accountId, subscriptionId, eventId, now } = await oneOfEach();
    const fresh = (status: DeliveryStatus) => ({ id: `dlv_${crypto.randomUUID()}`, eventId, subscriptionId, accountId, status });
    const rows = DELIVERY_STATUSES.map(fresh);
    await env.DB.batch(
      rows.map((r) =>
        env.DB.prepare(
          "INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0, ?, ?)",
        ).bind(r.id, eventKeyOf(r.eventId), r.subscriptionId, r.status, now, now),
      ),
    );
    // Older than the mark: the sweep already gave it its next_attempt_at, had it needed one.
    const beforeMark = fresh("pending");
    await env.DB.prepare(
      "INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, created_at, updated_at) VALUES (?, ?, ?, 'pending', 0, 0, ?, ?)",
    )
      .bind(beforeMark.id, eventKeyOf(eventId), subscriptionId, now - 5000, now - 5000)
      .run();
    await env.DB.prepare("UPDATE sweep_marks SET at = ? WHERE name = 'fresh'").bind(now - 1000).run();
    const older = async () =>
      (await env.DB.prepare("SELECT id, next_attempt_at FROM deliveries WHERE subscription_id = ? AND created_at < ? ORDER BY id").bind(subscriptionId, now).all()).results;
    const before = await older();
    expect(before).toContainEqual({ id: beforeMark.id, next_attempt_at: null });
    await database(env.DB).batch([lifecycle.promoteFreshOfAccountStatement(env, accountId)]);
    for (const r of rows) {
      const row = await env.DB.prepare("SELECT next_attempt_at FROM deliveries WHERE id = ?").bind(r.id).first<{ next_attempt_at: number | null }>();
      expect(row!.next_attempt_at, r.status).toBe(r.status === "pending" || r.status === "in_flight" ? now : null);
    }
    expect(await older()).toEqual(before);
  });
});
