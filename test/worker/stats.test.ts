/**
 * Endpoint health at a glance: real deliveries through the queue consumer (against the
 * receiver double) roll up per subscription and hour in the settle batch, and the stats read
 * back from the rollups match the log. The file's tests run in order: the operator's figures
 * are checked against everything the file delivered.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { database } from "../../src/db/client";
import { decodeAttempt } from "../../src/delivery/attempt-log";
import { settleStatements } from "../../src/delivery/lifecycle";
import { HOUR_MS, hourOf } from "../../src/delivery/rollup";
import { sweep } from "../../src/delivery/sweep";
import { bucketRange, expectStatsMatchLog, hourlyOf, type LoggedDelivery, truthOf } from "../stats-truth";
import { emit, receiverUrl, settledDeliveries } from "./delivery-harness";
import { BASE, call, createAccount, createSubscription, expectProblem, listAll, MISSING_SUBSCRIPTION_ID } from "./harness";
import { eventKeyOf } from "../../src/db/event-keys";

/** A subscription's log as its account reads it: every delivery, with its attempts. */
async function logOf(subscriptionId: string, key: string): Promise<LoggedDelivery[]> {
  const { items } = await listAll(`/v1/subscriptions/${subscriptionId}/deliveries`, key, 100);
  return Promise.all(
    items.map(async (d: { id: string }) => {
      const res = await call("GET", `/v1/deliveries/${d.id}`, { token: key });
      expect(res.status, res.text).toBe(200);
      return res.json;
    }),
  );
}

async function statsOf(subscriptionId: string, key: string) {
  const res = await call("GET", `/v1/subscriptions/${subscriptionId}/stats`, { token: key });
  expect(res.status, res.text).toBe(200);
  return res.json;
}

/** Every delivery in D1 with its attempts: the whole service's log, for the operator's figures. */
async function wholeLog(): Promise<LoggedDelivery[]> {
  const { results: rows } = await env.DB.prepare(
    "SELECT id, status, created_at, attempts_count, last_attempt FROM deliveries WHERE last_attempt IS NOT NULL",
  ).all<{
    id: string;
    status: string;
    created_at: number;
    attempts_count: number;
    last_attempt: string;
  }>();
  const { results: earlier } = await env.DB.prepare("SELECT delivery_id, started_at, duration_ms, outcome FROM attempts ORDER BY number").all<{
    delivery_id: string;
    started_at: number;
    duration_ms: number;
    outcome: string;
  }>();
  const attempt = (startedAt: number, durationMs: number, outcome: string) => ({
    started_at: new Date(startedAt).toISOString(),
    duration_ms: durationMs,
    outcome,
  });
  return rows.map((d) => {
    const last = decodeAttempt({ id: d.id, createdAt: d.created_at, attemptsCount: d.attempts_count }, d.last_attempt);
    return {
      status: d.status,
      attempts: [
        ...earlier.filter((a) => a.delivery_id === d.id).map((a) => attempt(a.started_at, a.duration_ms, a.outcome)),
        attempt(last.startedAt, last.durationMs, last.outcome),
      ],
    };
  });
}

let failingSub: { id: string; accountId: string; failed: number } | undefined;

describe("a subscription's stats", () => {
  it("are empty before any attempt: zero counts, no rate, no percentiles, 24 empty hours", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url });
    const stats = await statsOf(sub.id, key);
    const now = Date.now();
    expect(stats.subscription_id).toBe(sub.id);
    for (const [name, hours] of [["hour", 1], ["day", 24], ["week", 168]] as const) {
      expect(stats[name]).toEqual({
        from: new Date(hourOf(now - hours * HOUR_MS)).toISOString(),
        attempts: 0,
        succeeded: 0,
        failed: 0,
        success_rate: null,
        deliveries_failed: 0,
        p50_ms: null,
        p95_ms: null,
      });
    }
    expect(stats.hourly).toHaveLength(24);
    expect(stats.hourly[23].hour).toBe(new Date(hourOf(now)).toISOString());
    expect(stats.hourly[0].hour).toBe(new Date(hourOf(now) - 23 * HOUR_MS).toISOString());
    expect(stats.hourly.every((h: { attempts: number }) => h.attempts === 0)).toBe(true);
  });

  it("match the log: failures, timeouts, varied durations and a test send, counted exactly, percentiles in their bucket", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("status/503").url });
    // Four attempts answered 503: the delivery fails (RETRY_SCHEDULE is 1,1,1 in tests).
    const first = await emit(accountId);
    expect((await settledDeliveries(first.id))[0].status).toBe("failed");
    // Four attempts that time out (DELIVERY_TIMEOUT_MS is 1000): 8 failures in a row, below DEACTIVATE_AFTER.
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { url: receiverUrl("hang").url } });
    const second = await emit(accountId);
    expect((await settledDeliveries(second.id, undefined, 30_000))[0].status).toBe("failed");
    // Then 24 successes whose answers take from 0 to 400 ms, sent in one call.
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { url: receiverUrl("sleeps/0,2,5,9,15,30,60,120,250,400").url } });
    const batch = await call("POST", "/v1/events", {
      body: { events: Array.from({ length: 24 }, (_, i) => ({ account_id: accountId, type: "document.updated", data: { i } })) },
    });
    expect(batch.status, batch.text).toBe(202);
    for (const e of batch.json.data) expect((await settledDeliveries(e.id))[0].status).toBe("delivered");
    // A test send is an attempt of the log too.
    const test = await call("POST", `/v1/subscriptions/${sub.id}/test`, { token: key });
    expect(test.json.success).toBe(true);

    const log = await logOf(sub.id, key);
    expect(log).toHaveLength(27);
    const stats = await statsOf(sub.id, key);
    expectStatsMatchLog(stats, log);
    // The figures a user reads, spelled out for the day.
    expect(stats.day).toMatchObject({ attempts: 33, succeeded: 25, failed: 8, deliveries_failed: 2 });
    expect(stats.day.success_rate).toBeCloseTo(25 / 33, 4);
    // The chart's hours are the log's hours, by outcome.
    const hours = hourlyOf(log);
    for (const h of stats.hourly) {
      const { hour, ...counts } = h;
      expect(counts, hour).toEqual(hours.get(hour) ?? { attempts: 0, succeeded: 0, http_status: 0, timeout: 0, network: 0 });
    }
    expect(stats.hourly.reduce((n: number, h: { timeout: number }) => n + h.timeout, 0)).toBe(4);
    expect(stats.hourly.reduce((n: number, h: { http_status: number }) => n + h.http_status, 0)).toBe(4);
    failingSub = { id: sub.id, accountId, failed: 8 };
  }, 60_000);

  it("are the account's own: another account's or a missing subscription is a 404, the operator token a 403", async () => {
    const owner = await createAccount();
    const other = await createAccount();
    const sub = await createSubscription(owner.key, { url: receiverUrl("ok").url });
    await settledDeliveries((await emit(owner.id)).id);
    expect((await statsOf(sub.id, owner.key)).day.attempts).toBe(1);
    expectProblem(await call("GET", `/v1/subscriptions/${sub.id}/stats`, { token: other.key }), 404);
    expectProblem(await call("GET", `/v1/subscriptions/${MISSING_SUBSCRIPTION_ID}/stats`, { token: owner.key }), 404);
    expectProblem(await call("GET", `/v1/subscriptions/not-an-id/stats`, { token: owner.key }), 404);
    expect(expectProblem(await call("GET", `/v1/subscriptions/${sub.id}/stats`), 403).detail).toContain("account's API key");
    expectProblem(await call("GET", `/v1/subscriptions/${sub.id}/stats`, { token: null }), 401);
    // The other account's own subscription shows nothing of the owner's attempts.
    const hers = await createSubscription(other.key, { url: receiverUrl("ok").url });
    expect((await statsOf(hers.id, other.key)).week.attempts).toBe(0);
  });
});

describe("the rollup", () => {
  /** Deliveries as a claim leaves them, for settleStatements to record. */
  async function inFlight(accountId: string, subscriptionId: string, n: number) {
    const now = Date.now();
    const eventId = `evt_${crypto.randomUUID()}`;
    const ids = Array.from({ length: n }, () => `dlv_${crypto.randomUUID()}`);
    await env.DB.batch([
      env.DB.prepare("INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES (?, ?, 'document.updated', NULL, '{}', ?, ?)").bind(
        eventKeyOf(eventId),
        accountId,
        now,
        now,
      ),
      ...ids.map((id) =>
        env.DB.prepare(
          "INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, next_attempt_at, lease_until, created_at, updated_at) VALUES (?, ?, ?, 'in_flight', 0, 0, ?, ?, ?, ?)",
        ).bind(id, eventKeyOf(eventId), subscriptionId, now, now + 60_000, now, now),
      ),
    ]);
    return ids;
  }

  const recorded = (deliveryId: string, startedAt: number, durationMs: number, success: boolean) => ({
    attempt: {
      id: `att_${crypto.randomUUID()}`,
      deliveryId,
      number: 1,
      startedAt,
      durationMs,
      outcome: success ? ("success" as const) : ("http_status" as const),
      statusCode: success ? 200 : 500,
      error: null,
      responseHeaders: {},
      responseBody: "",
    },
    verdict: success ? ({ kind: "delivered" } as const) : ({ kind: "failed" } as const),
  });

  /** Records attempts as the consumer does (settleStatements, one batch); the rollup statement's own result. */
  async function settle(results: ReturnType<typeof recorded>[]) {
    const done = await database(env.DB).batch(settleStatements(env, results, Date.now()));
    // The rollup is the batch's last statement.
    return done[done.length - 1].meta.rows_written;
  }

  it("writes one row per subscription and hour of a settle batch, whatever its size, and adds up across batches", async () => {
    const { id: accountId, key } = await createAccount("business");
    const a = await createSubscription(key, { url: receiverUrl("ok").url });
    const b = await createSubscription(key, { url: receiverUrl("ok").url });
    const now = Date.now();
    // 25 deliveries to one subscription in one hour: one row written.
    const ids = await inFlight(accountId, a.id, 25);
    expect(await settle(ids.map((id, i) => recorded(id, now, i, true)))).toBe(1);
    // The same subscription again (an update of its row), and another subscription's deliveries: one row each.
    const [again] = await inFlight(accountId, a.id, 1);
    const others = await inFlight(accountId, b.id, 3);
    expect(await settle([recorded(again, now, 700, false), ...others.map((id) => recorded(id, now, 40, true))])).toBe(2);
    // An attempt in an earlier hour goes to that hour's row.
    const [late] = await inFlight(accountId, b.id, 1);
    expect(await settle([recorded(late, now - HOUR_MS, 5, true)])).toBe(1);
    // A delivery deleted meanwhile (its account deleted) adds nothing, as its settle records nothing.
    expect(await settle([recorded(`dlv_${crypto.randomUUID()}`, now, 5, true)])).toBe(0);

    const { results } = await env.DB.prepare(
      "SELECT subscription_id, hour, attempts, succeeded, http_status, deliveries_failed, max_ms, ms_0, ms_16, ms_512 FROM attempt_rollups WHERE account_id = ? ORDER BY subscription_id = ?, hour",
    )
      .bind(accountId, b.id)
      .all();
    expect(results).toEqual([
      // a: durations 0 to 24 ms, then one failure of 700 ms.
      { subscription_id: a.id, hour: hourOf(now), attempts: 26, succeeded: 25, http_status: 1, deliveries_failed: 1, max_ms: 700, ms_0: 1, ms_16: 8, ms_512: 1 },
      { subscription_id: b.id, hour: hourOf(now - HOUR_MS), attempts: 1, succeeded: 1, http_status: 0, deliveries_failed: 0, max_ms: 5, ms_0: 0, ms_16: 0, ms_512: 0 },
      { subscription_id: b.id, hour: hourOf(now), attempts: 3, succeeded: 3, http_status: 0, deliveries_failed: 0, max_ms: 40, ms_0: 0, ms_16: 0, ms_512: 0 },
    ]);
    const stats = await statsOf(a.id, key);
    expect(stats.day).toMatchObject({ attempts: 26, succeeded: 25, failed: 1, deliveries_failed: 1 });
    // The 25th of 26 durations is 24 ms: the estimate is in its bucket, [24, 32).
    expect(bucketRange(stats.day.p95_ms)).toBe("[24, 32)");
    expect(bucketRange(stats.day.p50_ms)).toBe(bucketRange(12));
  });

  it("counts a recorded attempt in the same transaction as the log", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url });
    const [id] = await inFlight(accountId, sub.id, 1);
    await settle([recorded(id, Date.now(), 12, true)]);
    expect((await statsOf(sub.id, key)).hour).toMatchObject({ attempts: 1, succeeded: 1, p50_ms: 12 });
    expect((await logOf(sub.id, key))[0]).toMatchObject({ status: "delivered", attempts: [{ duration_ms: 12 }] });
  });

  it("is pruned by the sweep's hourly purge once past its 8 days, and kept until then", async () => {
    const { id: accountId } = await createAccount();
    const now = Date.now();
    const row = (sub: string, hour: number) =>
      env.DB.prepare(
        "INSERT INTO attempt_rollups (account_id, subscription_id, hour, attempts, succeeded, http_status, timeout, network, deliveries_failed, max_ms) VALUES (?, ?, ?, 1, 1, 0, 0, 0, 0, 1)",
      ).bind(accountId, sub, hour);
    await env.DB.batch([row("sub_old", hourOf(now - 9 * 24 * HOUR_MS)), row("sub_kept", hourOf(now - 7.5 * 24 * HOUR_MS))]);
    await sweep(env, now, false);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM attempt_rollups WHERE account_id = ?").bind(accountId).first<{ n: number }>())!.n).toBe(2);
    await sweep(env, now, true);
    const { results } = await env.DB.prepare("SELECT subscription_id FROM attempt_rollups WHERE account_id = ?").bind(accountId).all();
    expect(results).toEqual([{ subscription_id: "sub_kept" }]);
    await env.DB.prepare("DELETE FROM attempt_rollups WHERE account_id = ?").bind(accountId).run();
  });
});

describe("the operator's stats", () => {
  it("add up every account's log, rank the most failing subscriptions and count the backlog", async () => {
    const res = await call("GET", "/v1/stats?top=5&window=day");
    expect(res.status, res.text).toBe(200);
    const log = await wholeLog();
    for (const name of ["hour", "day", "week"]) {
      const truth = truthOf(log, Date.parse(res.json[name].from));
      expect(res.json[name], name).toMatchObject({
        attempts: truth.attempts,
        succeeded: truth.succeeded,
        failed: truth.failed,
        deliveries_failed: truth.deliveries_failed,
      });
    }
    expectStatsMatchLog(res.json, log);
    // The subscription that failed 8 attempts leads; each entry's figures are its own.
    const [top] = res.json.most_failing.subscriptions;
    expect(top).toMatchObject({
      subscription_id: failingSub!.id,
      account_id: failingSub!.accountId,
      target_host: "receiver.test",
      active: true,
      failed: failingSub!.failed,
      deliveries_failed: 2,
    });
    expect(res.json.most_failing).toMatchObject({ window: "day", from: res.json.day.from });
    expect(res.json.most_failing.subscriptions.length).toBeLessThanOrEqual(5);
    expect(res.json.most_failing.subscriptions.every((s: { failed: number }) => s.failed > 0)).toBe(true);
    // Nothing is pending once everything settled.
    expect(res.json.backlog).toEqual({ pending: 0, due: 0, in_flight: 0, oldest_pending_at: null, oldest_pending_age_seconds: null });
  });

  it("count pending deliveries, those due now, and the oldest one's age", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url, active: false });
    const now = Date.now();
    const eventId = `evt_${crypto.randomUUID()}`;
    const delivery = (status: string, nextAttemptAt: number | null, createdAt: number) =>
      env.DB.prepare(
        "INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, next_attempt_at, lease_until, created_at, updated_at) VALUES (?, ?, ?, ?, 0, 0, ?, NULL, ?, ?)",
      ).bind(`dlv_${crypto.randomUUID()}`, eventKeyOf(eventId), sub.id, status, nextAttemptAt, createdAt, createdAt);
    // Written straight to D1, without queue messages: two due, one retrying in an hour, one in flight, one finished,
    // and a new one pending and another in flight.
    await env.DB.batch([
      env.DB.prepare("INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES (?, ?, 'document.updated', NULL, '{}', ?, ?)").bind(
        eventKeyOf(eventId),
        accountId,
        now,
        now,
      ),
      delivery("pending", now - 1000, now - 2 * HOUR_MS),
      delivery("pending", now - 5000, now - 60_000),
      delivery("pending", now + HOUR_MS, now - 10_000),
      delivery("in_flight", now - 1000, now - 1000),
      delivery("delivered", null, now - 3 * HOUR_MS),
      // As emit writes them (no next_attempt_at until the sweep gives one): due when created.
      delivery("pending", null, now - 500),
      delivery("in_flight", null, now - 400),
    ]);
    const res = await call("GET", "/v1/stats");
    expect(res.status, res.text).toBe(200);
    expect(res.json.backlog).toMatchObject({ pending: 4, due: 3, in_flight: 2, oldest_pending_at: new Date(now - 2 * HOUR_MS).toISOString() });
    expect(res.json.backlog.oldest_pending_age_seconds).toBeGreaterThanOrEqual(7200);
    expect(res.json.backlog.oldest_pending_age_seconds).toBeLessThan(7200 + 60);
    await env.DB.prepare("DELETE FROM deliveries WHERE event_id = ?").bind(eventKeyOf(eventId)).run();
  });

  it("are the operator's only, and refuse a bad query with a 422 naming it", async () => {
    const { key } = await createAccount();
    expectProblem(await call("GET", "/v1/stats", { token: key }), 403);
    expectProblem(await call("GET", "/v1/stats", { token: null }), 401);
    const bad = expectProblem(await call("GET", "/v1/stats?top=0&window=month"), 422);
    expect(bad.errors!.map((e) => e.path).sort()).toEqual(["query.top", "query.window"]);
  });

  it("the backlog reads the partial index of deliveries still to send, not the whole log", async () => {
    const { results } = await env.DB.prepare(
      "EXPLAIN QUERY PLAN SELECT count(*) FILTER (WHERE status = 'pending') FROM deliveries WHERE next_attempt_at IS NOT NULL",
    ).all<{ detail: string }>();
    expect(results.map((r) => r.detail).join("; ")).toContain("deliveries_due");
  });
});

describe("deleting an account", () => {
  it("erases its rollups and leaves another account's", async () => {
    const gone = await createAccount();
    const stays = await createAccount();
    const subGone = await createSubscription(gone.key, { url: receiverUrl("ok").url });
    const subStays = await createSubscription(stays.key, { url: receiverUrl("ok").url });
    await settledDeliveries((await emit(gone.id)).id);
    await settledDeliveries((await emit(stays.id)).id);
    const count = async (accountId: string) =>
      (await env.DB.prepare("SELECT count(*) AS n FROM attempt_rollups WHERE account_id = ?").bind(accountId).first<{ n: number }>())!.n;
    expect(await count(gone.id)).toBe(1);
    const del = await call("DELETE", `/v1/accounts/${gone.id}`);
    expect(del.status, del.text).toBe(204);
    expect(await count(gone.id)).toBe(0);
    expect(await count(stays.id)).toBe(1);
    expect((await statsOf(subStays.id, stays.key)).day.attempts).toBe(1);
    expect(subGone.id).toMatch(/^sub_/);
  });
});

describe("the dashboard", () => {
  it("shows the figures and a chart of attempts per hour by outcome on the subscription's page", async () => {
    const { id: accountId, name, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("flaky/1").url });
    const event = await emit(accountId);
    await settledDeliveries(event.id);
    const login = await exports.default.fetch(
      new Request(`${BASE}/dashboard/login`, {
        method: "POST",
        body: new URLSearchParams({ name, key }),
        headers: { "content-type": "application/x-www-form-urlencoded" },
        redirect: "manual",
      }),
    );
    expect(login.status).toBe(303);
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    const res = await exports.default.fetch(new Request(`${BASE}/dashboard/subscriptions/${sub.id}`, { headers: { cookie } }));
    const html = await res.text();
    expect(res.status, html).toBe(200);
    const section = html.slice(html.indexOf('<section class="stats"'), html.indexOf("</section>", html.indexOf('<section class="stats"')));
    // One failed attempt (500), then a success: 2 attempts, 50 %.
    const day = section.slice(section.indexOf('id="stats-day"'));
    expect(day).toMatch(/data-field="attempts">2</);
    expect(day).toMatch(/data-field="success_rate">50 %</);
    expect(day).toMatch(/data-field="failed">1</);
    expect(section).toContain('<svg class="chart" id="stats-chart"');
    const bars = [...section.matchAll(/<g class="hour" data-hour="([^"]+)" data-attempts="(\d+)">/g)];
    expect(bars).toHaveLength(24);
    expect(bars[23][1]).toBe(new Date(hourOf(Date.now())).toISOString());
    expect(bars.reduce((n, m) => n + Number(m[2]), 0)).toBe(2);
    expect(section).toContain('class="bar-ok"');
    expect(section).toContain('class="bar-status"');
    // Nothing the page's CSP would block: no inline style attribute, no external resource.
    expect(section).not.toMatch(/ style=|<script|href="http/);
  });
});
