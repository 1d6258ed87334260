/**
 * Metrics mode counts D1 from D1's own meta whichever method made the call: drizzle reads
 * through raw(), which hands back no meta, so counting at the methods missed those reads.
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { instrument, readCounters } from "../../src/metrics";

const metered = () => instrument({ ...env, METRICS: "1" } as Env, "queue");

it("counts rows read by raw() and first(), rows written, round trips and statements per handler", async () => {
  const db = metered().DB;
  readCounters(true);
  await db.prepare("CREATE TABLE IF NOT EXISTS metrics_probe (id INTEGER PRIMARY KEY, v TEXT)").run();
  await db.batch([db.prepare("INSERT INTO metrics_probe (v) VALUES (?)").bind("a"), db.prepare("INSERT INTO metrics_probe (v) VALUES (?)").bind("b")]);
  const afterWrites = readCounters();
  expect(afterWrites.d1.rowsWritten).toBeGreaterThanOrEqual(2);
  expect(afterWrites.d1.roundTrips).toBe(2);
  expect(afterWrites.d1.statements).toBe(3);

  const rows = await db.prepare("SELECT v FROM metrics_probe ORDER BY id").raw();
  expect(rows).toEqual([["a"], ["b"]]);
  const first = await db.prepare("SELECT count(*) AS n FROM metrics_probe").first<{ n: number }>();
  expect(first?.n).toBe(2);
  const counted = readCounters(true);
  expect(counted.d1.rowsRead - afterWrites.d1.rowsRead).toBeGreaterThanOrEqual(4); // two rows each time
  expect(counted.d1.roundTrips).toBe(4);
  expect(counted.d1ByHandler.queue).toEqual({ roundTrips: 4, statements: 5, rowsRead: counted.d1.rowsRead, rowsWritten: counted.d1.rowsWritten });
  expect(counted.d1ByHandler.fetch.roundTrips).toBe(0);
  // D1's size_after: a level, kept across resets.
  expect(counted.d1.sizeAfter).toBeGreaterThan(0);
  expect(readCounters().d1.sizeAfter).toBe(counted.d1.sizeAfter);
  expect(readCounters().d1.roundTrips).toBe(0);
});

it("wraps nothing when metrics mode is off", () => {
  const plain = { ...env, METRICS: undefined } as Env;
  expect(instrument(plain, "fetch")).toBe(plain);
});
