/// <reference types="node" />
/**
 * The benchmark's own parts: a call that never gets an answer fails alone at its deadline and is
 * counted, a wait for deliveries ends when they stop coming, the statistics are the usual ones, and
 * the floor (bench/floor) delivers what it is given and stands beside the targets, not among them.
 */
import { createServer } from "node:http";
import { afterAll, expect, it } from "vitest";
// @ts-expect-error plain ES modules without types
import { startReceiver } from "../../scripts/bench/receiver.mjs";
// @ts-expect-error plain ES modules without types
import { call, Errors, median, padding, percentile, pool } from "../../scripts/bench/util.mjs";
// @ts-expect-error plain ES modules without types
import { scenarioCost } from "../../scripts/bench/cost.mjs";
// @ts-expect-error plain ES modules without types
import { startBaselineSide } from "../../scripts/bench/baseline-side.mjs";
// @ts-expect-error plain ES modules without types
import { buildReport, markdown } from "../../scripts/bench/report.mjs";

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

it("the floor records and delivers every job of (a) and (b) once, and has no other scenario", async () => {
  const receiver = await startReceiver();
  const sizes = { a: 20, concurrency: 4, bEvents: 20, bSubs: 3, bBatch: 10, bConcurrency: 2, callDeadlineMs: 30_000, wait: () => ({ deadlineMs: 60_000, stallMs: 20_000 }) };
  const floor = await startBaselineSide(new URL("../..", import.meta.url).pathname, receiver, sizes, { workerPerRun: false, worker: "floor" });
  try {
    expect(Object.keys(floor.scenarios).sort()).toEqual(["a", "b"]);
    const a = await floor.scenarios.a(1);
    expect(a).toMatchObject({ side: "floor", scenario: "a", deliveries_expected: 20, deliveries_received: 20, errors: { count: 0 } });
    const b = await floor.scenarios.b(1);
    expect(b).toMatchObject({ side: "floor", scenario: "b", deliveries_expected: 60, deliveries_received: 60, errors: { count: 0 } });
    // Each (event, url) arrived: the receiver counts a job once, whatever the queue redelivers.
    expect(receiver.received("floor-b-1")).toHaveLength(60);
  } finally {
    await floor.stop();
    await receiver.close();
  }
}, 120_000);

it("the report sets the floor's ratios beside the targets, not among them", () => {
  const run = (side: string, scenario: string, perSecond: number) => ({
    side,
    scenario,
    rep: 1,
    events: 10,
    deliveries_expected: 10,
    deliveries_received: 10,
    errors: { count: 0, kinds: {} },
    events_accepted_per_s: perSecond,
    deliveries_per_s: perSecond,
    latency_ms: { p50: 1, p95: 2, p99: 3 },
  });
  const runs = [run("hookline", "a", 60), run("baseline", "a", 100), run("floor", "a", 70), run("hookline", "b", 45), run("baseline", "b", 100), run("floor", "b", 72)];
  const report = buildReport({ runs, purges: {}, sizes: { reps: 1 }, machine: { cpus: 2, cpu_model: "x", memory_gb: 1, node: "20", wrangler: "4" }, started: Date.now() });
  expect(report.targets.map((t: { name: string }) => t.name).some((n: string) => n.includes("floor"))).toBe(false);
  expect(report.reference).toEqual([
    { name: "(a) the floor's deliveries/s vs the per-request queue baseline", value: 0.7 },
    { name: "(b) the floor's deliveries/s vs the queue-only consumer", value: 0.72 },
  ]);
  expect(report.summary.a.floor.deliveries_per_s).toBe(70);
  expect(report.summary.c).not.toHaveProperty("floor");
  expect(markdown(report)).toContain("| (b) the floor's deliveries/s vs the queue-only consumer | 0.72 | reference (bench/floor) | — |");
});
