/**
 * The consumer's claim leases each delivery by its place in the send order: long enough that
 * the sweep never takes back a delivery the batch is still sending (a concurrent consumer would
 * send it again), short enough that after a crash the first deliveries of a big batch come back
 * as soon as a small batch's would.
 */
import { afterEach, expect, it, vi } from "vitest";
import type { Config } from "../../src/config";
import { batchLeaseMs, leaseMs, MAX_CONNECTIONS } from "../../src/core/delivery-state";
import { HORIZON_MS, LATE_MS } from "../../src/core/throttle";
import { pool } from "../../src/delivery/consumer";

const config = { deliveryTimeoutMs: 10_000 } as Config;
const RECORDING_MS = 30_000;

afterEach(() => {
  vi.useRealTimers();
});

it("a delivery's lease is one timed-out attempt per round of connections before it, its own, and 30 s to record it", () => {
  expect(leaseMs(config, 0)).toBe(40_000);
  expect(leaseMs(config, MAX_CONNECTIONS - 1)).toBe(40_000);
  expect(leaseMs(config, MAX_CONNECTIONS)).toBe(50_000);
  // The last of 250 (25 messages of 10 deliveries) waits 41 rounds; the first does not.
  expect(leaseMs(config, 249)).toBe(450_000);
  // A throttled delivery goes last and may wait for its permit: the whole batch's lease and that wait.
  expect(batchLeaseMs(config, 25)).toBe(80_000 + HORIZON_MS + LATE_MS);
  expect(batchLeaseMs(config, 1)).toBe(40_000 + HORIZON_MS + LATE_MS);
});

it("the consumer's pool ends every attempt of a batch within its lease, 30 s to spare, whatever each takes", async () => {
  vi.useFakeTimers();
  let seed = 7;
  const random = () => ((seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31);
  const cases: number[][] = [
    Array(250).fill(config.deliveryTimeoutMs),
    Array(25).fill(config.deliveryTimeoutMs),
    ...[1, 6, 7, 25, 100, 250].map((n) => Array.from({ length: n }, () => Math.floor(random() * (config.deliveryTimeoutMs + 1)))),
    // Quick ones first, then hanging ones: the late places still get their rounds.
    [...Array(12).fill(5), ...Array(40).fill(config.deliveryTimeoutMs)],
  ];
  for (const durations of cases) {
    const start = Date.now();
    const ended: number[] = [];
    const run = pool(
      durations.map((d, i) => [d, i] as const),
      MAX_CONNECTIONS,
      async ([d, i]) => {
        await new Promise((r) => setTimeout(r, d));
        ended[i] = Date.now() - start;
      },
    );
    await vi.runAllTimersAsync();
    await run;
    expect(ended).toHaveLength(durations.length);
    ended.forEach((t, i) => expect(t, `place ${i} of ${durations.length}`).toBeLessThanOrEqual(leaseMs(config, i) - RECORDING_MS));
  }
  // And the bound is tight: with every attempt timing out, the last of each round ends exactly at it.
  const worst = Array(13).fill(config.deliveryTimeoutMs);
  const start = Date.now();
  const ended: number[] = [];
  const run = pool([...worst.keys()], MAX_CONNECTIONS, async (i) => {
    await new Promise((r) => setTimeout(r, worst[i]));
    ended[i] = Date.now() - start;
  });
  await vi.runAllTimersAsync();
  await run;
  expect(ended).toEqual(ended.map((_, i) => leaseMs(config, i) - RECORDING_MS));
});
