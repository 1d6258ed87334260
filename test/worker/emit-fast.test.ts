/**
 * Emit in one D1 round trip once the isolate knows the call's event types, and never at the
 * price of exactness: a catalog entry changed since, an unknown account or a subscription
 * changed just before the call are all honoured. The SQL fan-out is core/matching's
 * subscriptionMatches, property-tested against it on real D1.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config";
import { subscriptionMatches } from "../../src/core/matching";
import { fanOutStatement } from "../../src/delivery/lifecycle";
import { instrument, readCounters } from "../../src/metrics";
import { emitEvents } from "../../src/services/emit";
import { groupSizes } from "../../src/services/emit-group";
import { call, createAccount, createSubscription, expectProblem, MISSING_ACCOUNT_ID } from "./harness";
import { eventIdSql, eventKeyOf, eventKeySql } from "../../src/db/event-keys";
import { sql } from "drizzle-orm";
import { sqlAll } from "../../src/db/client";

const metered = () => instrument({ ...env, METRICS: "1" } as Env, "fetch");
let typeCounter = 0;
async function freshType(schema?: Record<string, unknown>) {
  const name = `fast.t${Date.now().toString(36)}${typeCounter++}`;
  const res = await call("POST", "/v1/event-types", { body: { name, ...(schema ? { schema } : {}) } });
  expect(res.status, res.text).toBe(201);
  return name;
}
const emitOne = (e: Env, accountId: string, type: string, data: Record<string, unknown> = {}) =>
  emitEvents(e, loadConfig(e), [{ account_id: accountId, type, data }], { batch: false });

describe("one round trip once warm", () => {
  it("the first call of a type reads then writes; the next ones only write", async () => {
    const { id, key } = await createAccount();
    const type = await freshType();
    await createSubscription(key, { event_types: [type] });
    const e = metered();
    readCounters(true);
    await emitOne(e, id, type);
    expect(readCounters(true).d1.roundTrips).toBe(2);
    const second = await emitOne(e, id, type);
    expect(readCounters(true).d1.roundTrips).toBe(1);
    expect(second.body.data[0].deliveries).toBe(1);
    const [row] = (await env.DB.prepare("SELECT id, status FROM deliveries WHERE event_id = ?").bind(eventKeyOf(second.body.data[0].id)).all<{ id: string; status: string }>()).results;
    expect(row.id).toMatch(/^dlv_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(row.status).toBe("pending");
  });

  it("a schema changed after the isolate cached the type applies to the very next call", async () => {
    const { id } = await createAccount();
    const type = await freshType();
    await emitOne(env, id, type, { n: "one" });
    const patched = await call("PATCH", `/v1/event-types/${type}`, {
      body: { schema: { type: "object", properties: { n: { type: "number" } }, required: ["n"] } },
    });
    expect(patched.status, patched.text).toBe(200);
    const refused = await call("POST", "/v1/events", { body: { account_id: id, type, data: { n: "one" } } });
    expect(expectProblem(refused, 422).errors).toEqual(expect.arrayContaining([expect.objectContaining({ path: "data.n" })]));
    const accepted = await call("POST", "/v1/events", { body: { account_id: id, type, data: { n: 1 } } });
    expect(accepted.status, accepted.text).toBe(202);
  });

  it("an unknown account is a 422 naming it, and nothing is stored", async () => {
    const { id } = await createAccount();
    const type = await freshType();
    await emitOne(env, id, type);
    const before = await env.DB.prepare("SELECT count(*) AS n FROM events").first<{ n: number }>();
    const res = await call("POST", "/v1/events", {
      body: { events: [{ account_id: id, type, data: {} }, { account_id: MISSING_ACCOUNT_ID, type, data: {} }] },
    });
    expect(expectProblem(res, 422).errors).toEqual([{ path: "events[1].account_id", message: "no such account" }]);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM events").first<{ n: number }>()).toEqual(before);
  });

  it("a subscription switched off or deleted just before the call is honoured by it", async () => {
    const { id, key } = await createAccount();
    const type = await freshType();
    const off = await createSubscription(key, { event_types: [type] });
    const gone = await createSubscription(key, { event_types: [type] });
    await emitOne(env, id, type);
    await call("PATCH", `/v1/subscriptions/${off.id}`, { token: key, body: { active: false } });
    await call("DELETE", `/v1/subscriptions/${gone.id}`, { token: key });
    const { body } = await emitOne(env, id, type);
    const rows = await env.DB.prepare("SELECT subscription_id, status FROM deliveries WHERE event_id = ?").bind(eventKeyOf(body.data[0].id)).all();
    expect(rows.results).toEqual([{ subscription_id: off.id, status: "skipped" }]);
    expect(body.data[0].deliveries).toBe(1);
  });
});

describe("calls that arrive together share one round trip", () => {
  // Each event and how many deliveries it has, whatever their status: the consumer may have sent
  // them already by the time this reads.
  const stored = async (eventIds: string[]) =>
    sqlAll<{ id: string; data: string; deliveries: number }>(
      env.DB,
      sql`SELECT ${eventIdSql(sql`e.id`)} AS id, e.data, count(d.id) AS deliveries FROM events e LEFT JOIN deliveries d ON d.event_id = e.id
        WHERE e.id IN (SELECT ${eventKeySql(sql`value`)} FROM json_each(${JSON.stringify(eventIds)})) GROUP BY e.id`,
    );

  it("each call is written and answered as its own; their deliveries share queue messages", async () => {
    const { id, key } = await createAccount();
    const type = await freshType();
    await createSubscription(key, { event_types: [type] });
    const e = metered();
    await emitOne(e, id, type);
    readCounters(true);
    const groupsBefore = groupSizes.length;
    const calls = await Promise.all(Array.from({ length: 12 }, (_, n) => emitOne(e, id, type, { n })));
    const ids = calls.map((c) => c.body.data[0].id);
    // A group's messages go out once its calls are answered: wait until the consumer has sent every delivery.
    await vi.waitFor(
      async () => {
        const sent = await sqlAll<{ n: number }>(env.DB, sql`SELECT count(*) AS n FROM deliveries
          WHERE event_id IN (SELECT ${eventKeySql(sql`value`)} FROM json_each(${JSON.stringify(ids)})) AND attempts_count > 0`);
        expect(sent[0].n).toBe(12);
      },
      { timeout: 10_000, interval: 50 },
    );
    const counters = readCounters(true);
    // Without grouping: 12 round trips and 12 messages.
    expect(counters.d1.roundTrips).toBeLessThan(12);
    expect(counters.queue.messagesSent).toBeGreaterThan(0);
    expect(counters.queue.messagesSent).toBeLessThan(12);
    expect(Math.max(...groupSizes.slice(groupsBefore))).toBeGreaterThan(1);
    expect(new Set(ids).size).toBe(12);
    expect(calls.every((c) => c.body.data[0].deliveries === 1)).toBe(true);
    const rows = await stored(ids);
    expect(rows.map((r) => [r.id, JSON.parse(r.data).n, r.deliveries]).sort()).toEqual(ids.map((eid, n) => [eid, n, 1]).sort());
  });

  it("calls from separate requests share groups: each is answered by its own request, and stored once", async () => {
    const { id, key } = await createAccount();
    const type = await freshType();
    await createSubscription(key, { event_types: [type] });
    await emitOne(env, id, type);
    const groupsBefore = groupSizes.length;
    // Each call is a request of its own (its own I/O context), the way clients and service bindings call.
    const answers = await Promise.all(
      Array.from({ length: 16 }, (_, n) => call("POST", "/v1/events", { body: { account_id: id, type, data: { n } } })),
    );
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 202));
    const answered = answers.map((a) => a.json.data[0] as { id: string; deliveries: number });
    expect(answered.map((e) => e.deliveries)).toEqual(answered.map(() => 1));
    const ids = answered.map((e) => e.id);
    const rows = await stored(ids);
    expect(rows.map((r) => [r.id, JSON.parse(r.data).n, r.deliveries]).sort()).toEqual(ids.map((eid, n) => [eid, n, 1]).sort());
    expect(Math.max(...groupSizes.slice(groupsBefore))).toBeGreaterThan(1);
  });

  it("a call whose guard fails in a group leaves the others written once; it goes the careful way itself", async () => {
    const { id, key } = await createAccount();
    const changing = await freshType();
    const steady = await freshType();
    await createSubscription(key, { event_types: [changing, steady] });
    await emitOne(env, id, changing);
    await emitOne(env, id, steady);
    // The catalog entry this isolate holds for `changing` goes stale: its guard aborts whatever batch it is in.
    await env.DB.prepare("UPDATE event_types SET updated_at = updated_at + 1 WHERE name = ?").bind(changing).run();
    const groupsBefore = groupSizes.length;
    const calls = await Promise.all([
      emitOne(env, id, steady, { n: 0 }),
      emitOne(env, id, changing, { n: 1 }),
      ...[2, 3, 4].map((n) => emitOne(env, id, steady, { n })),
    ]);
    const ids = calls.map((c) => c.body.data[0].id);
    const rows = await stored(ids);
    expect(rows.map((r) => [r.id, JSON.parse(r.data).n, r.deliveries]).sort()).toEqual(ids.map((eid, n) => [eid, n, 1]).sort());
    const total = await env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id = ?").bind(id).first<{ n: number }>();
    expect(total!.n).toBe(2 + 5);
    expect(Math.max(...groupSizes.slice(groupsBefore))).toBeGreaterThan(1);
  });
});

describe("the SQL fan-out is core/matching", () => {
  const types = ["a", "ab", "a.b", "a.bc", "a.b.c", "b.a"];
  const patterns = ["*", "a", "a.*", "a.b", "a.b.*", "ab.*", "b.*", "a.bc"];
  const subjects = ["s1", "s2", "s3"];

  it("creates exactly the deliveries subscriptionMatches says, pending or skipped", async () => {
    const { id: accountId } = await createAccount("business");
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            eventTypes: fc.uniqueArray(fc.constantFrom(...patterns), { minLength: 1, maxLength: 3 }),
            subjects: fc.option(fc.uniqueArray(fc.constantFrom(...subjects), { minLength: 1, maxLength: 2 }), { nil: null }),
            active: fc.boolean(),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        fc.array(fc.record({ type: fc.constantFrom(...types), subject: fc.option(fc.constantFrom(...subjects), { nil: null }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        async (subs, events) => {
          const now = Date.now();
          const subIds = subs.map(() => `sub_${crypto.randomUUID()}`);
          await env.DB.batch([
            env.DB.prepare("DELETE FROM subscriptions WHERE account_id = ?").bind(accountId),
            ...subs.map((s, i) =>
              env.DB.prepare(
                `INSERT INTO subscriptions (id, account_id, url, event_types, subjects, description, format, headers, metadata,
                  active, consecutive_failures, created_at, updated_at) VALUES (?, ?, 'https://example.com/', ?, ?, '', 'standard', '{}', '{}', ?, 0, ?, ?)`,
              ).bind(subIds[i], accountId, JSON.stringify(s.eventTypes), s.subjects === null ? null : JSON.stringify(s.subjects), s.active ? 1 : 0, now, now),
            ),
          ]);
          const eventRows = events.map((e) => [`evt_${crypto.randomUUID()}`, accountId, e.type, e.subject]);
          const created = await fanOutStatement(env, eventRows, now);
          const got = created.map((d) => `${d.event_id} ${d.subscription_id} ${d.status}`).sort();
          const expected = eventRows
            .flatMap(([eventId], i) =>
              subs.flatMap((s, j) => (subscriptionMatches(s, events[i]) ? [`${eventId} ${subIds[j]} ${s.active ? "pending" : "skipped"}`] : [])),
            )
            .sort();
          expect(got).toEqual(expected);
        },
      ),
      { numRuns: 60 },
    );
  });
});
