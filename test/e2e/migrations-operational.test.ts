/// <reference types="node" />
/**
 * Migration 0007 upgrades a deployment in place, in workerd's own SQLite: it adds the system
 * account and the operational event types, and a catalog that already had one of those names
 * keeps its own entry.
 */
import { expect, it } from "vitest";
import { migrateBefore, migrateFrom, useDatabases } from "./migration-harness";
import { OPERATIONAL_EVENT_TYPES, SYSTEM_ACCOUNT_ID } from "../../src/core/operational";

const { DB: db } = await useDatabases("DB");

it("0007 adds the system account and the operational event types, keeping the rows and event types already there", async () => {
  await migrateBefore(db, "0007_");
  const now = Date.now();
  await db.batch([
    db.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?)").bind(now, now),
    db
      .prepare(
        "INSERT INTO subscriptions (id, account_id, url, event_types, description, format, headers, metadata, active, consecutive_failures, created_at, updated_at) VALUES ('sub_1', 'acct_1', 'https://example.com', '[\"*\"]', '', 'standard', '{}', '{}', 1, 3, ?, ?)",
      )
      .bind(now, now),
    // The operator's own type of that name, from before: it stays as it was.
    db
      .prepare("INSERT INTO event_types (name, description, schema, example, deprecated, created_at, updated_at) VALUES ('subscription.created', 'billing: a plan was bought', NULL, NULL, 0, ?, ?)")
      .bind(now, now),
  ]);

  await migrateFrom(db);

  expect(await db.prepare("SELECT id, name, plan FROM accounts ORDER BY id").all()).toMatchObject({
    results: [{ id: "acct_1" }, { id: SYSTEM_ACCOUNT_ID, name: "hookline:operator", plan: "system" }],
  });
  expect(await db.prepare("SELECT id, consecutive_failures FROM subscriptions").all()).toMatchObject({
    results: [{ id: "sub_1", consecutive_failures: 3 }],
  });
  const types = await db
    .prepare(`SELECT name, description, schema FROM event_types WHERE name IN (${OPERATIONAL_EVENT_TYPES.map(() => "?").join(",")}) ORDER BY name`)
    .bind(...OPERATIONAL_EVENT_TYPES)
    .all<{ name: string; description: string; schema: string | null }>();
  expect(types.results).toHaveLength(OPERATIONAL_EVENT_TYPES.length);
  for (const t of types.results) {
    if (t.name === "subscription.created") expect(t).toMatchObject({ description: "billing: a plan was bought", schema: null });
    else expect(JSON.parse(t.schema!)).toMatchObject({ type: "object", required: expect.arrayContaining(["account", "subscription"]) });
  }
  // No key can exist for the system account's name: the API's account names cannot contain ':'.
  expect((await db.prepare("SELECT count(*) AS n FROM api_keys").first<{ n: number }>())!.n).toBe(0);
});
