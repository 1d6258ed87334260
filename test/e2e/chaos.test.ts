/// <reference types="node" />
/**
 * `npm run chaos -- --quick` keeps passing: Hookline is SIGKILLed and restarted while events
 * are emitted to receivers that fail at random, and afterwards every (event, subscription)
 * pair is accounted for (received, failed after all its attempts, or skipped after a
 * deactivation its log justifies), nothing is lost, and no delivery had two attempts at once.
 * The seed is random; a failure names it (`node scripts/chaos.mjs --quick --seed N` replays it).
 */
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, expect, it } from "vitest";

const out = mkdtempSync(join(tmpdir(), "hookline-chaos-test-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

it("chaos --quick loses nothing across SIGKILLs and writes chaos-latest.json", async () => {
  let failure: (Error & { stdout?: string; stderr?: string }) | null = null;
  try {
    // The cap only stops a hung run: restarts after each kill and the drain take longer on a shared machine.
    await promisify(execFile)(process.execPath, ["scripts/chaos.mjs", "--quick", "--out", out], { timeout: 390_000 });
  } catch (err) {
    failure = err as Error & { stdout?: string; stderr?: string };
  }
  const file = join(out, "chaos-latest.json");
  if (!existsSync(file)) throw new Error(`chaos wrote no report: ${failure?.message}\n${failure?.stderr?.slice(-3000)}`);
  const report = JSON.parse(readFileSync(file, "utf8"));
  const context = `seed ${report.seed}; violations: ${JSON.stringify(report.violations?.slice(0, 5), null, 1)}`;

  expect(report.quick).toBe(true);
  expect(report.kills.length, context).toBeGreaterThanOrEqual(2);
  expect(report.events.accepted, context).toBe(report.config.events);
  expect(report.events.stored, context).toBe(report.config.events);
  expect(report.pairs.lost, context).toBe(0);
  expect(report.pairs.received + report.pairs.failed_after_all_attempts + report.pairs.skipped_after_deactivation, context).toBe(
    report.config.events * report.config.subscriptions,
  );
  expect(report.overlapping_attempts, context).toBe(0);
  expect(report.invalid_signatures, context).toBe(0);
  expect(report.duplicates.total, context).toEqual(expect.any(Number));
  for (const [check, ok] of Object.entries(report.checks)) expect(ok, `${check}: ${context}`).toBe(true);
  // Every deactivation is justified by its log, and the failure rates leave some subscriptions on.
  for (const s of report.subscriptions.filter((s: { active: boolean }) => !s.active)) {
    expect(s.deactivation.longest_failure_run_before, context).toBeGreaterThanOrEqual(report.config.deactivate_after);
  }
  expect(report.subscriptions.some((s: { active: boolean }) => s.active), context).toBe(true);
  expect(report.passed, context).toBe(true);
  expect(failure, failure?.stderr?.slice(-3000)).toBeNull();
}, 400_000);
