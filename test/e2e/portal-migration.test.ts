/// <reference types="node" />
/**
 * Migration 0008 upgrades a deployment in place, in workerd's own SQLite: dashboard sessions
 * signed in with a key are kept (as `key` sessions, with their account), the key's cascade
 * still ends them, and the new rules hold (a portal session has no key, a key session has one).
 */
import { expect, it } from "vitest";
import { migrateBefore, migrateFrom, useDatabases } from "./migration-harness";

const { DB: db } = await useDatabases("DB");

it("0008 keeps every dashboard session as a key session of its account, and adds portal sessions and links", async () => {
  await migrateBefore(db, "0008_");
  const now = Date.now();
  await db.batch([
    db.prepare("INSERT INTO accounts (id, name, plan, created_at, updated_at) VALUES ('acct_1', 'a', 'pro', ?, ?), ('acct_2', 'b', 'pro', ?, ?)").bind(now, now, now, now),
    db.prepare("INSERT INTO api_keys VALUES ('key_1', 'acct_1', 'h1', 'hl_1', ?), ('key_2', 'acct_2', 'h2', 'hl_2', ?)").bind(now, now),
    db.prepare("INSERT INTO dashboard_sessions VALUES ('s1', 'key_1', ?, ?), ('s2', 'key_1', ?, ?), ('s3', 'key_2', ?, ?)").bind(now, now + 1, now, now + 2, now, now + 3),
  ]);

  await migrateFrom(db);

  expect((await db.prepare("SELECT id, kind, account_id, key_id, created_at, expires_at FROM dashboard_sessions ORDER BY id").all()).results).toEqual([
    { id: "s1", kind: "key", account_id: "acct_1", key_id: "key_1", created_at: now, expires_at: now + 1 },
    { id: "s2", kind: "key", account_id: "acct_1", key_id: "key_1", created_at: now, expires_at: now + 2 },
    { id: "s3", kind: "key", account_id: "acct_2", key_id: "key_2", created_at: now, expires_at: now + 3 },
  ]);
  const indexes = await db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('dashboard_sessions', 'portal_links') ORDER BY name").all();
  expect(indexes.results.map((r) => r.name)).toEqual(
    expect.arrayContaining(["dashboard_sessions_account", "dashboard_sessions_key", "portal_links_account"]),
  );

  // A portal session has no key; a key session must have one.
  await db.prepare("INSERT INTO dashboard_sessions VALUES ('p1', 'portal', 'acct_1', NULL, ?, ?)").bind(now, now + 9).run();
  await expect(db.prepare("INSERT INTO dashboard_sessions VALUES ('p2', 'portal', 'acct_1', 'key_1', ?, ?)").bind(now, now).run()).rejects.toThrow(/CHECK/);
  await expect(db.prepare("INSERT INTO dashboard_sessions VALUES ('k9', 'key', 'acct_1', NULL, ?, ?)").bind(now, now).run()).rejects.toThrow(/CHECK/);
  await expect(db.prepare("INSERT INTO dashboard_sessions VALUES ('x1', 'other', 'acct_1', NULL, ?, ?)").bind(now, now).run()).rejects.toThrow(/CHECK/);
  await db.prepare("INSERT INTO portal_links (token_hash, account_id, created_at, expires_at) VALUES ('h', 'acct_1', ?, ?)").bind(now, now + 600_000).run();

  // Revoking a key still ends its sessions (the cascade), and only those.
  await db.prepare("DELETE FROM api_keys WHERE id = 'key_1'").run();
  expect((await db.prepare("SELECT id FROM dashboard_sessions ORDER BY id").all()).results).toEqual([{ id: "p1" }, { id: "s3" }]);
  // Deleting the account ends its portal session and links too.
  await db.prepare("DELETE FROM accounts WHERE id = 'acct_1'").run();
  expect((await db.prepare("SELECT id FROM dashboard_sessions").all()).results).toEqual([{ id: "s3" }]);
  expect((await db.prepare("SELECT count(*) AS n FROM portal_links").first<{ n: number }>())!.n).toBe(0);
});
