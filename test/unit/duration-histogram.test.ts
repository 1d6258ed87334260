import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BUCKET_FLOORS, BUCKETS, bucketOf, percentile } from "../../src/core/duration-histogram";

const histogram = (durations: number[]) => {
  const counts = new Array<number>(BUCKETS).fill(0);
  for (const d of durations) counts[bucketOf(d)]++;
  return counts;
};

/** Nearest rank, on the exact values: what the estimate stands for. */
const exact = (durations: number[], p: number) => [...durations].sort((a, b) => a - b)[Math.max(1, Math.ceil(p * durations.length)) - 1];

describe("the duration histogram", () => {
  it("buckets from 0 ms up, each at most 1.5 times as wide as its floor, the last open-ended", () => {
    expect(BUCKET_FLOORS[0]).toBe(0);
    for (let i = 1; i < BUCKETS; i++) expect(BUCKET_FLOORS[i]).toBeGreaterThan(BUCKET_FLOORS[i - 1]);
    for (let i = 4; i < BUCKETS; i++) expect(BUCKET_FLOORS[i] / BUCKET_FLOORS[i - 1]).toBeLessThanOrEqual(1.5);
    expect([0, 1, 2, 3, 4, 5, 6, 11, 12, 99, 10_000, 65_535, 65_536, 1e9].map((ms) => BUCKET_FLOORS[bucketOf(ms)])).toEqual([
      0, 1, 2, 3, 4, 4, 6, 8, 12, 96, 8192, 49152, 65536, 65536,
    ]);
    expect(bucketOf(-5)).toBe(0);
  });

  it("has no percentile without durations", () => {
    expect(percentile(new Array(BUCKETS).fill(0), 0.5, null)).toBeNull();
  });

  it("is exact below 4 ms, and never above the largest duration seen", () => {
    expect(percentile(histogram([0, 1, 1, 2, 3]), 0.5, 3)).toBe(1);
    expect(percentile(histogram([0, 1, 1, 2, 3]), 0.95, 3)).toBe(3);
    // 250 ms is in [192, 384): the estimate interpolates between the floor and the largest value.
    expect(percentile(histogram([250]), 0.5, 250)).toBe(221);
  });

  it("puts p50 and p95 in the same bucket as the exact nearest-rank value", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 12_000 }), fc.integer({ min: 0, max: 200_000 })), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.constantFrom(0.5, 0.95, 0.99, 1),
        (durations, p) => {
          const estimate = percentile(histogram(durations), p, Math.max(...durations))!;
          expect(bucketOf(estimate)).toBe(bucketOf(exact(durations, p)));
          expect(estimate).toBeLessThanOrEqual(Math.max(...durations));
        },
      ),
      { numRuns: 500 },
    );
  });

  it("spreads ranks across a bucket by linear interpolation", () => {
    // 10 attempts between 512 and 767 ms: the median's estimate is inside that bucket, near its middle.
    const p50 = percentile(histogram(new Array(10).fill(600)), 0.5, 767)!;
    expect(p50).toBeGreaterThanOrEqual(512);
    expect(p50).toBeLessThanOrEqual(767);
    expect(Math.abs(p50 - 626)).toBeLessThan(20);
  });
});
