/// <reference types="node" />
/**
 * A deployment that applied the earlier migrations upgrades in place: the log's tables are
 * rebuilt WITHOUT ROWID (migration 0004) with every row kept, and subscriptions gain
 * throttle_rate (0010), and the sweep's scan for new deliveries starts at the upgrade (0014), and
 * deliveries lose their account_id and nothing else (0016), and event ids are stored as their 16
 * bytes (0017), in workerd's own SQLite.
 */
import { expect, it } from "vitest";
import { migrateBefore, migrateFrom, useDatabases } from "./migration-harness";

const { DB: db, UPGRADED: upgraded, MARKED: marked, LEAN: lean, KEYS: keyed } = await useDatabases("DB", "UPGRADED", "MARKED", "LEAN", "KEYS");

it("0004 rebuilds events, deliveries, attempts and idempotency keys without rowid, keeping their rows; 0006 keeps deleted subscriptions", async () => {
  await migrateBefore(db, "0004_");
  const now = Date.now();
  await db.batch([
    db.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?)").bind(now, now),
    db.prepare("INSERT INTO events VALUES ('evt_1', 'acct_1', 'document.updated', 'doc', '{\"x\":1}', ?, ?)").bind(now, now),
    db.prepare("INSERT INTO deliveries VALUES ('dlv_1', 'evt_1', 'sub_1', 'acct_1', 'pending', 1, 0, ?, NULL, ?, ?)").bind(now, now, now),
    db.prepare("INSERT INTO attempts VALUES ('att_1', 'dlv_1', 1, ?, 12, 'http_status', 500, 'no', '{}', 'body')").bind(now),
    db.prepare("INSERT INTO idempotency_keys VALUES ('acct_1', 'request:k', 'h', '{}', ?)").bind(now),
  ]);

  await migrateFrom(db);

  expect(await db.prepare("SELECT id, data FROM events").all()).toMatchObject({ results: [{ id: "evt_1", data: '{"x":1}' }] });
  expect(await db.prepare("SELECT id, status, next_attempt_at FROM deliveries").all()).toMatchObject({
    results: [{ id: "dlv_1", status: "pending", next_attempt_at: now }],
  });
  expect(await db.prepare("SELECT id, response_body FROM attempts").all()).toMatchObject({ results: [{ id: "att_1", response_body: "body" }] });
  expect(await db.prepare("SELECT key FROM idempotency_keys").all()).toMatchObject({ results: [{ key: "request:k" }] });
  for (const table of ["events", "deliveries", "attempts", "idempotency_keys"]) {
    await expect(db.prepare(`SELECT rowid FROM ${table}`).all(), table).rejects.toThrow(/no such column: rowid/);
  }
  const indexes = await db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").all();
  expect(indexes.results.map((r) => r.name)).toEqual(
    expect.arrayContaining(["attempts_delivery", "deliveries_due", "deliveries_subscription", "events_account"]),
  );
  // 0006: no index on event_id; the subscription of dlv_1 no longer exists, so it is kept as deleted,
  // and from then on the trigger keeps every deleted subscription.
  expect(indexes.results.map((r) => r.name)).not.toContain("deliveries_event");
  expect((await db.prepare("SELECT account_id, id FROM deleted_subscriptions").all()).results).toEqual([{ account_id: "acct_1", id: "sub_1" }]);
  await db.batch([
    db.prepare("INSERT INTO subscriptions (id, account_id, url, event_types, description, format, headers, metadata, active, consecutive_failures, created_at, updated_at) VALUES ('sub_2', 'acct_1', 'https://example.com', '[\"*\"]', '', 'standard', '{}', '{}', 1, 0, ?, ?)").bind(now, now),
    db.prepare("DELETE FROM subscriptions WHERE id = 'sub_2'"),
  ]);
  const deleted = await db.prepare("SELECT id, deleted_at FROM deleted_subscriptions WHERE id = 'sub_2'").first<{ id: string; deleted_at: number }>();
  expect(deleted!.deleted_at).toBeGreaterThanOrEqual(now - 1000);
  expect(deleted!.deleted_at).toBeLessThan(Date.now() + 1000);
  // The foreign key still holds: deleting the account takes its events.
  await db.prepare("DELETE FROM accounts WHERE id = 'acct_1'").run();
  expect((await db.prepare("SELECT count(*) AS n FROM events").first<{ n: number }>())!.n).toBe(0);
});

it("0010 gives existing subscriptions throttle_rate null (no limit), keeping every column", async () => {
  await migrateBefore(upgraded, "0010_");
  const now = Date.now();
  await upgraded.batch([
    upgraded.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?)").bind(now, now),
    upgraded
      .prepare(
        `INSERT INTO subscriptions (id, account_id, url, event_types, format, headers, metadata, active, consecutive_failures, secret_enc, created_at, updated_at)
         VALUES ('sub_1', 'acct_1', 'https://example.com/hook', '["*"]', 'standard', '{}', '{}', 1, 2, 'sealed', ?, ?)`,
      )
      .bind(now, now),
  ]);
  await migrateFrom(upgraded);
  expect(await upgraded.prepare("SELECT id, url, active, consecutive_failures, secret_enc, throttle_rate FROM subscriptions").all()).toMatchObject({
    results: [{ id: "sub_1", url: "https://example.com/hook", active: 1, consecutive_failures: 2, secret_enc: "sealed", throttle_rate: null }],
  });
  await upgraded.prepare("UPDATE subscriptions SET throttle_rate = 10 WHERE id = 'sub_1'").run();
  expect((await upgraded.prepare("SELECT throttle_rate FROM subscriptions").first<{ throttle_rate: number }>())!.throttle_rate).toBe(10);
});

it("0014 starts the sweep's scan for new deliveries at the upgrade: deliveries written before keep their next_attempt_at", async () => {
  await migrateBefore(marked, "0014_");
  const now = Date.now();
  await marked.batch([
    marked.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?)").bind(now, now),
    marked.prepare("INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES ('evt_1', 'acct_1', 't', NULL, '{}', ?, ?)").bind(now, now),
    marked
      .prepare(
        `INSERT INTO deliveries (id, event_id, subscription_id, account_id, status, attempts_count, series_base, next_attempt_at, created_at, updated_at)
         VALUES ('dlv_1', 'evt_1', 'sub_1', 'acct_1', 'pending', 0, 0, ?, ?, ?)`,
      )
      .bind(now, now, now),
  ]);
  await migrateFrom(marked);
  const mark = await marked.prepare("SELECT name, at FROM sweep_marks").all<{ name: string; at: number }>();
  expect(mark.results).toHaveLength(1);
  expect(mark.results[0].name).toBe("fresh");
  // SQLite's clock, to the millisecond: at the upgrade, after the delivery was written.
  expect(mark.results[0].at).toBeGreaterThanOrEqual(now - 1000);
  expect(mark.results[0].at).toBeLessThanOrEqual(Date.now() + 1000);
  expect(await marked.prepare("SELECT status, next_attempt_at FROM deliveries").first()).toEqual({ status: "pending", next_attempt_at: now });
});

it("0016 drops deliveries.account_id and keeps every delivery and its other columns as they were", async () => {
  await migrateBefore(lean, "0016_");
  const now = Date.now();
  const last = JSON.stringify(["att_1", 1, now, 12, "success", 200, null, { "content-type": "text/plain" }, "ok"]);
  await lean.batch([
    lean.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?)").bind(now, now),
    lean.prepare("INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES ('evt_1', 'acct_1', 't', NULL, '{}', ?, ?)").bind(now, now),
    lean
      .prepare(
        `INSERT INTO deliveries (id, event_id, subscription_id, account_id, status, attempts_count, series_base, next_attempt_at, lease_until,
           last_attempt, created_at, updated_at)
         VALUES ('dlv_1', 'evt_1', 'sub_1', 'acct_1', 'delivered', 1, 0, NULL, NULL, ?, ?, ?), ('dlv_2', 'evt_1', 'sub_2', 'acct_1', 'pending', 0, 0, ?, NULL, NULL, ?, ?)`,
      )
      .bind(last, now, now + 1, now, now, now),
  ]);
  await migrateFrom(lean);
  const { results } = await lean.prepare("SELECT * FROM deliveries ORDER BY id").all();
  expect(results).toEqual([
    { id: "dlv_1", event_id: "evt_1", subscription_id: "sub_1", status: "delivered", attempts_count: 1, series_base: 0, next_attempt_at: null,
      lease_until: null, last_attempt: last, created_at: now, updated_at: now + 1 },
    { id: "dlv_2", event_id: "evt_1", subscription_id: "sub_2", status: "pending", attempts_count: 0, series_base: 0, next_attempt_at: now,
      lease_until: null, last_attempt: null, created_at: now, updated_at: now },
  ]);
  // The indexes the log reads through are still there.
  const indexes = await lean.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' ORDER BY name").all<{ name: string }>();
  expect(indexes.results.map((r) => r.name)).toEqual(["deliveries_due", "deliveries_subscription"]);
});

it("0017 stores every event id as its 16 bytes, in events and in deliveries, and leaves an id that is no event id as it was", async () => {
  await migrateBefore(keyed, "0017_");
  const now = Date.now();
  const eventId = "evt_0f0e8571-a5e9-45f9-91ae-f915eeaae903";
  await keyed.batch([
    keyed.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?)").bind(now, now),
    keyed
      .prepare("INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES (?, 'acct_1', 't', NULL, '{\"a\":1}', ?, ?), ('evt_1', 'acct_1', 't', NULL, '{}', ?, ?)")
      .bind(eventId, now, now, now, now),
    keyed
      .prepare(
        `INSERT INTO deliveries (id, event_id, subscription_id, status, attempts_count, series_base, created_at, updated_at)
         VALUES ('dlv_1', ?, 'sub_1', 'delivered', 1, 0, ?, ?), ('dlv_2', 'evt_1', 'sub_1', 'pending', 0, 0, ?, ?)`,
      )
      .bind(eventId, now, now, now, now),
  ]);
  await migrateFrom(keyed);
  const key = "0F0E8571A5E945F991AEF915EEAAE903";
  expect((await keyed.prepare("SELECT typeof(id) AS t, hex(id) AS h, data FROM events ORDER BY created_at, id").all()).results).toEqual([
    { t: "text", h: Buffer.from("evt_1").toString("hex").toUpperCase(), data: "{}" },
    { t: "blob", h: key, data: '{"a":1}' },
  ]);
  expect((await keyed.prepare("SELECT id, typeof(event_id) AS t, hex(event_id) AS h FROM deliveries ORDER BY id").all()).results).toEqual([
    { id: "dlv_1", t: "blob", h: key },
    { id: "dlv_2", t: "text", h: Buffer.from("evt_1").toString("hex").toUpperCase() },
  ]);
  // A delivery still finds its event, and the account's list its events, through the keys.
  expect((await keyed.prepare("SELECT e.data FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = 'dlv_1'").first())).toEqual({ data: '{"a":1}' });
  const plan = await keyed.prepare("EXPLAIN QUERY PLAN SELECT id FROM events WHERE account_id = 'acct_1' ORDER BY created_at").all<{ detail: string }>();
  expect(plan.results.map((r) => r.detail).join(" ")).toContain("events_account");
});
