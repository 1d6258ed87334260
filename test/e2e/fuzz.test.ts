/// <reference types="node" />
/**
 * `npm run fuzz` keeps working: a small campaign through the script writes a report that
 * counts what the fuzzer sent and found, and passes. (The full campaign is `npm run fuzz`.)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const out = mkdtempSync(join(tmpdir(), "hookline-fuzz-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("fuzz --runs 20 writes fuzz-latest.json and .md with its counts, and passes", async () => {
  const file = join(out, "fuzz-latest.json");
  // The cap only stops a hung run; this takes seconds.
  await promisify(execFile)(process.execPath, ["scripts/fuzz.mjs", "--runs", "20", "--min-requests", "200", "--out", file], { timeout: 170_000 });
  const report = JSON.parse(readFileSync(file, "utf8"));
  expect(report).toMatchObject({ passed: true, failures: [], runs_per_property: 20, five_xx: 0, partial_rows: 0, cross_account_reads: 0 });
  expect(report.requests).toBeGreaterThanOrEqual(200);
  const perProperty = Object.values(report.properties as Record<string, { requests: number }>);
  expect(perProperty.length).toBeGreaterThanOrEqual(7);
  expect(perProperty.reduce((n, p) => n + p.requests, 0)).toBe(report.requests);
  expect(readFileSync(join(out, "fuzz-latest.md"), "utf8")).toContain("| property | runs | requests |");
}, 180_000);
