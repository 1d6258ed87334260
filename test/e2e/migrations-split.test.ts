/// <reference types="node" />
/**
 * The schema's two folders (migrations/README.md), in workerd's own SQLite: a deployment that
 * applied the one folder (0000-0012) upgrades in place with its data and runs no control migration
 * twice; a new control database gets the same schema from the two folders; a data shard gets the
 * data folder only, with no table of the control database's own.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { applyFolder, migrateBefore, migrateFrom, schemaOf, useDatabases } from "./migration-harness";

const { OLD: old, FRESH: fresh, SHARD: shard } = await useDatabases("OLD", "FRESH", "SHARD");
const files = (folder: string) => readdirSync(join(import.meta.dirname, "../../migrations", folder)).filter((f) => f.endsWith(".sql")).sort();
const CONTROL_ONLY = ["dashboard_sessions", "portal_links", "sign_in_attempts"];
const tables = async (db: D1Database) =>
  (await db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' ORDER BY name").all<{ name: string }>()).results.map(
    (r) => r.name,
  );

it("a deployment of the one folder upgrades in place: its rows kept, the control folder marked as applied, nothing run twice", async () => {
  await migrateBefore(old, "0013_");
  const now = 1_796_083_200_000;
  await old.batch([
    old.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?)").bind(now, now),
    old.prepare("INSERT INTO api_keys VALUES ('key_1', 'acct_1', 'h1', 'hl_1', ?)").bind(now),
    old.prepare("INSERT INTO dashboard_sessions VALUES ('s1', 'key', 'acct_1', 'key_1', ?, ?), ('p1', 'portal', 'acct_1', NULL, ?, ?)").bind(now, now + 1, now, now + 2),
    old.prepare("INSERT INTO portal_links (token_hash, account_id, created_at, expires_at) VALUES ('t1', 'acct_1', ?, ?)").bind(now, now + 3),
    old.prepare("INSERT INTO sign_in_attempts VALUES ('b1', 4, ?)").bind(now),
    old
      .prepare(
        "INSERT INTO subscriptions (id, account_id, url, event_types, format, headers, metadata, active, created_at, updated_at) VALUES ('sub_1', 'acct_1', 'https://example.com/h', '[\"*\"]', 'standard', '{}', '{}', 1, ?, ?)",
      )
      .bind(now, now),
  ]);
  const before = await Promise.all(
    ["accounts", "api_keys", "dashboard_sessions", "portal_links", "sign_in_attempts", "subscriptions"].map((t) => old.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()),
  );

  const applied = await migrateFrom(old);

  // The bridge and what came after it are the new files; the control folder finds all its files already applied.
  expect(applied).toEqual({ data: files("data").filter((f) => f >= "0013_"), control: [] });
  const marked = await old.prepare("SELECT name FROM d1_migrations_control ORDER BY name").all<{ name: string }>();
  expect(marked.results.map((r) => r.name)).toEqual(files("control"));
  const after = await Promise.all(
    ["accounts", "api_keys", "dashboard_sessions", "portal_links", "sign_in_attempts", "subscriptions"].map((t) => old.prepare(`SELECT * FROM ${t} ORDER BY 1`).all()),
  );
  expect(after.map((r) => r.results)).toEqual(before.map((r) => r.results));
  // accounts: ours and the system account of operational webhooks (0007).
  expect(after.map((r) => r.results.length)).toEqual([2, 1, 2, 1, 1, 1]);
  // Applying again is a no-op, as a second `npm start` or deploy is.
  expect(await migrateFrom(old)).toEqual({ data: [], control: [] });
});

it("a new control database gets the same schema from the two folders as an upgraded one", async () => {
  const applied = await migrateFrom(fresh);
  expect(applied).toEqual({ data: files("data"), control: files("control") });
  expect(await schemaOf(fresh)).toEqual(await schemaOf(old));
  expect(await tables(fresh)).toEqual(expect.arrayContaining([...CONTROL_ONLY, "accounts", "event_types", "subscriptions", "deliveries", "d1_migrations_control"]));
});

it("a data shard gets the data folder only: its copies of accounts, keys and the catalog, none of the control database's own tables", async () => {
  expect(await applyFolder(shard, "data")).toEqual(files("data"));
  const names = await tables(shard);
  for (const table of CONTROL_ONLY) expect(names).not.toContain(table);
  expect(names).toEqual(expect.arrayContaining(["accounts", "api_keys", "event_types", "subscriptions", "events", "deliveries", "attempts", "idempotency_keys"]));
  // The seeded catalog is on every shard (0001_seed_event_types.sql, 0007's operational types).
  const catalog = await shard.prepare("SELECT COUNT(*) AS n FROM event_types").first<{ n: number }>();
  expect(catalog!.n).toBe((await fresh.prepare("SELECT COUNT(*) AS n FROM event_types").first<{ n: number }>())!.n);
  expect(catalog!.n).toBeGreaterThan(0);
  // Its control table exists (the bridge) and lists nothing: the control folder never ran here.
  expect((await shard.prepare("SELECT COUNT(*) AS n FROM d1_migrations_control").first<{ n: number }>())!.n).toBe(0);
  // Every table of the shard is in the control database with the same SQL: one data schema.
  const control = await schemaOf(fresh);
  for (const [name, sql] of Object.entries(await schemaOf(shard))) expect(control[name], name).toBe(sql);
});
