/// <reference types="node" />
/**
 * `npm run bench -- --quick` keeps working: it starts Hookline and the baseline, delivers
 * every event of every scenario with valid signatures, and writes its report.
 * (Figures are reported, not asserted: tests don't time things.)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const out = mkdtempSync(join(tmpdir(), "hookline-bench-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("bench --quick delivers every scenario and writes latest.json and latest.md", async () => {
  // The cap only stops a hung run: on an idle machine this takes well under a minute, but it
  // starts two wranglers and paces scenario (c) in real time, which a shared machine stretches.
  await promisify(execFile)(process.execPath, ["scripts/bench.mjs", "--quick", "--out", out], { timeout: 290_000 });
  const report = JSON.parse(readFileSync(join(out, "latest.json"), "utf8"));
  expect(report.quick).toBe(true);
  expect(report.invalid_signatures).toBe(0);
  for (const s of [...report.hookline, ...report.baseline]) {
    expect(s.deliveries_received, s.scenario).toBe(s.deliveries_expected);
    expect(s.ratio_to_baseline, s.scenario).toEqual(expect.any(Number));
    expect(s.latency_ms.p99, s.scenario).toEqual(expect.any(Number));
  }
  // A healthy endpoint costs no Durable Object request; the cost model is filled in.
  expect(report.cost.a.per_delivery.durable_object_requests).toBe(0);
  expect(report.cost.a.usd_per_million_deliveries.total).toBeGreaterThan(0);
  expect(readFileSync(join(out, "latest.md"), "utf8")).toContain("| scenario |");
}, 300_000);
