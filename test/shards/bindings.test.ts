/**
 * The two-shard pool itself (vitest.shards.config.ts): shard 1's database is bound, migrated and
 * a database of its own, and its queue's consumer batches name their queue.
 */
import { env } from "cloudflare:workers";
import { afterEach, expect, it, vi } from "vitest";
import Hookline from "../../src/index";

afterEach(() => vi.restoreAllMocks());

it("binds SHARDS = 2 and DB_1, migrated, a database apart from DB", async () => {
  expect(env.SHARDS).toBe("2");
  const db1 = env.DB_1;
  expect(db1).toBeDefined();
  if (!db1) return;
  const deliveries = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'";
  expect((await db1.prepare(deliveries).all()).results).toEqual([{ name: "deliveries" }]);

  await env.DB.exec("CREATE TABLE shard_probe (x INTEGER)");
  await env.DB.prepare("INSERT INTO shard_probe (x) VALUES (0)").run();
  await db1.exec("CREATE TABLE shard_probe (x INTEGER)");
  await db1.prepare("INSERT INTO shard_probe (x) VALUES (1)").run();
  expect((await env.DB.prepare("SELECT x FROM shard_probe").all()).results).toEqual([{ x: 0 }]);
  expect((await db1.prepare("SELECT x FROM shard_probe").all()).results).toEqual([{ x: 1 }]);
});

it("delivers DELIVERY_QUEUE_1's messages to the Worker's queue handler as batches of hookline-deliveries-1", async () => {
  const seen: { queue: string; bodies: unknown[] }[] = [];
  vi.spyOn(Hookline.prototype, "queue").mockImplementation(async (batch) => {
    seen.push({ queue: batch.queue, bodies: batch.messages.map((m) => m.body) });
    batch.ackAll();
  });
  await env.DELIVERY_QUEUE.send({ id: "shard-0" });
  await env.DELIVERY_QUEUE_1!.send({ id: "shard-1" });
  await vi.waitUntil(() => seen.length >= 2, { timeout: 10_000, interval: 50 });
  expect([...seen].sort((a, b) => a.queue.localeCompare(b.queue))).toEqual([
    { queue: "hookline-deliveries", bodies: [{ id: "shard-0" }] },
    { queue: "hookline-deliveries-1", bodies: [{ id: "shard-1" }] },
  ]);
});
