/**
 * The consumer's claim lease outlasts the slowest batch it can be given: otherwise the sweep
 * takes back deliveries the batch is still sending, and a concurrent consumer sends them again.
 */
import { expect, it } from "vitest";
import type { Config } from "../../src/config";
import { leaseMs, MAX_CONNECTIONS } from "../../src/core/delivery-state";

it("a claim's lease covers its whole batch of timed-out attempts, plus 30 s to record them", () => {
  const config = { deliveryTimeoutMs: 10_000 } as Config;
  expect(leaseMs(config, 1)).toBe(40_000);
  expect(leaseMs(config, MAX_CONNECTIONS)).toBe(40_000);
  expect(leaseMs(config, MAX_CONNECTIONS + 1)).toBe(50_000);
  // wrangler.toml's max_batch_size: 25 deliveries over 6 connections, 5 in a row on one.
  expect(leaseMs(config, 25)).toBe(80_000);
  for (let n = 1; n <= 100; n++) {
    expect(leaseMs(config, n)).toBeGreaterThanOrEqual(Math.ceil(n / MAX_CONNECTIONS) * config.deliveryTimeoutMs + 30_000);
  }
});
