/// <reference types="node" />
/**
 * `npm run bench -- --quick` keeps working: it starts Hookline, the baseline and the floor, runs
 * every scenario on Hookline and the baseline and (a) and (b) on the floor, delivers every event with valid signatures, purges, prices, and writes
 * its report. (Figures are reported, not asserted: tests don't time things. What is asserted is
 * that each figure was measured, so that a broken counter or a skipped step fails here.)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const out = mkdtempSync(join(tmpdir(), "hookline-bench-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("bench --quick runs Hookline and the baseline in every scenario and the floor in (a) and (b), (d) on two shards, purges, prices and writes latest.json and latest.md", async () => {
  // The cap only stops a hung run: on an idle machine this takes well under a minute, but it
  // starts three wranglers and paces scenario (c) in real time, which a shared machine stretches.
  await promisify(execFile)(process.execPath, ["scripts/bench.mjs", "--quick", "--out", out], { timeout: 290_000 });
  const report = JSON.parse(readFileSync(join(out, "latest.json"), "utf8"));
  expect(report.quick).toBe(true);
  expect(report.aborted).toBeNull();
  expect(report.errors).toBe(0);
  expect(report.invalid_signatures).toBe(0);
  for (const scenario of ["a", "b", "c"]) {
    for (const side of ["hookline", "baseline"]) {
      const s = report.summary[scenario][side];
      expect(s.deliveries_received, `${scenario} ${side}`).toBe(s.deliveries_expected);
      expect(s.deliveries_per_s, `${scenario} ${side}`).toBeGreaterThan(0);
      expect(s.latency_ms.p99, `${scenario} ${side}`).toBeGreaterThan(0);
    }
    // The purge ran over the scenario's rows: at least each delivery is deleted (a first-try success has no attempt row).
    const cost = report.cost[scenario];
    expect(cost.per_delivery.d1_rows_written_by_purge, scenario).toBeGreaterThanOrEqual(1);
    expect(cost.per_delivery.d1_rows_written, scenario).toBeGreaterThan(cost.per_delivery.d1_rows_written_by_purge);
    // Reads are counted whichever D1 method made them (drizzle reads through raw(), which has no meta).
    expect(cost.per_delivery.d1_rows_read, scenario).toBeGreaterThan(1);
    expect(cost.d1_round_trips.per_emit_call, scenario).toBeGreaterThan(0);
    expect(cost.d1_round_trips.per_consumer_batch, scenario).toBeGreaterThan(0);
    expect(cost.usd_per_million_deliveries.total, scenario).toBeGreaterThan(0);
  }
  expect(report.summary.forward.baseline.deliveries_received).toBe(report.summary.forward.baseline.deliveries_expected);
  // The floor (bench/floor) ran (a) and (b), delivered every job, and stands beside the targets.
  for (const scenario of ["a", "b"]) {
    const f = report.summary[scenario].floor;
    expect(f.deliveries_received, `${scenario} floor`).toBe(f.deliveries_expected);
    expect(f.deliveries_per_s, `${scenario} floor`).toBeGreaterThan(0);
  }
  expect(report.summary.c).not.toHaveProperty("floor");
  expect(report.reference).toHaveLength(2);
  for (const r of report.reference) expect(r.value, r.name).toEqual(expect.any(Number));
  // (d): two shards, accounts on both, every delivery at its own account's endpoint, priced like the others.
  const d = report.summary.d.hookline;
  expect(d.deliveries_received).toBe(d.deliveries_expected);
  expect(report.shards).toMatchObject({ shards: 2, lost: 0, crossed: 0 });
  expect(report.shards.accounts_per_shard).toHaveLength(2);
  for (const n of report.shards.accounts_per_shard) expect(n).toBeGreaterThan(0);
  expect(report.cost.d.per_delivery.d1_rows_written_by_purge).toBeGreaterThanOrEqual(1);
  expect(report.cost.d.per_delivery.d1_bytes_stored).toBeGreaterThan(100);
  expect(report.summary.d1.hookline.deliveries_received).toBe(report.summary.d1.hookline.deliveries_expected);
  expect(report.shards.usd_per_million_vs_one_shard).toEqual(expect.any(Number));
  expect(report.shards.rows_written_per_delivery_vs_one_shard).toEqual(expect.any(Number));
  // (a) runs first on a fresh database, so D1's size_after grew by what its deliveries stored.
  expect(report.cost.a.per_delivery.d1_bytes_stored).toBeGreaterThan(100);
  expect(report.cost.a.per_delivery.durable_object_requests).toBe(0);
  for (const t of report.targets) {
    expect(t.value, t.name).toEqual(expect.any(Number));
    expect(t.met, t.name).toEqual(expect.any(Boolean));
  }
  for (const price of Object.values(report.prices) as { usd: number; asOf: string }[]) expect(price.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  const md = readFileSync(join(out, "latest.md"), "utf8");
  expect(md).toContain("| scenario | side |");
  expect(md).toMatch(/\| \(a\) deliveries\/s vs the per-request queue baseline \| [\d.]+ \| >= 0.8 \| (met|missed) \|/);
}, 300_000);
