/// <reference types="node" />
/**
 * The benchmark's own parts: a call that never gets an answer fails alone at its deadline and is
 * counted, a wait for deliveries ends when they stop coming, and the statistics are the usual ones.
 */
import { createServer } from "node:http";
import { afterAll, expect, it } from "vitest";
// @ts-expect-error plain ES modules without types
import { startReceiver } from "../../scripts/bench/receiver.mjs";
// @ts-expect-error plain ES modules without types
import { call, Errors, median, padding, percentile, pool } from "../../scripts/bench/util.mjs";
// @ts-expect-error plain ES modules without types
import { scenarioCost } from "../../scripts/bench/cost.mjs";

const silent = createServer(() => {}); // reads the request, never answers
await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
const url = `http://127.0.0.1:${(silent.address() as { port: number }).port}`;
afterAll(() => new Promise((r) => (silent.closeAllConnections(), silent.close(r))));

it("a call past its deadline is counted as a deadline error and the others go on", async () => {
  const errors = new Errors();
  const started = Date.now();
  await pool([1, 2, 3], 2, () => call(`${url}/v1/events`, { method: "POST", body: {}, deadlineMs: 300 }), errors);
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(errors.toJSON()).toEqual({ count: 3, kinds: { deadline: 3 } });
});

it("waiting for deliveries ends when they stop coming", async () => {
  const receiver = await startReceiver();
  try {
    const started = Date.now();
    const got = await receiver.waitFor("nothing", 10, { deadlineMs: 60_000, stallMs: 300 });
    expect(got).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  } finally {
    await receiver.close();
  }
});

it("medians, percentiles and padding", () => {
  expect(median([3, 1, 2])).toBe(2);
  expect(median([4, 1, 3, 2])).toBe(2.5);
  expect(median([null, 5])).toBe(5);
  expect(median([])).toBeNull();
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99)).toBe(10);
  expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
  const [a, b] = [padding(), padding()];
  expect(a).toHaveLength(256);
  expect(a).not.toBe(b);
});

it("the cost of a scenario leaves out the purge's share of a run whose counters could not be read", () => {
  const counters = (rowsWritten: number) => ({
    invocations: { fetch: 101, queue: 10, rpc: 0 },
    d1: { rowsWritten, rowsRead: 0, roundTrips: 0 },
    d1ByHandler: { fetch: { roundTrips: 100 }, queue: { roundTrips: 20 } },
    queue: { messagesSent: 10, retries: 0 },
    durableObject: { requests: 0 },
  });
  const run = (counted: unknown) => ({ deliveries_received: 100, emit_calls: 100, counted });
  const purge = { rowsWritten: 400, rowsRead: 0, invocations: 2 };
  // Two runs of 100 deliveries each and one purge of both: 2 rows each.
  const both = scenarioCost([run(counters(600)), run(counters(600))], purge, null);
  expect(both.per_delivery).toMatchObject({ d1_rows_written: 8, d1_rows_written_by_purge: 2 });
  // The second run's counters are missing: its 100 deliveries and its half of the purge are left out, not the purge spread over the first.
  const one = scenarioCost([run(counters(600)), run(null)], purge, null);
  expect(one.per_delivery).toMatchObject({ d1_rows_written: 8, d1_rows_written_by_purge: 2 });
});
