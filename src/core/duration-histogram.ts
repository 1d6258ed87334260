/**
 * Attempt durations as a histogram of log-scale buckets, and percentiles read back from it.
 * Pure: the rollup writer (src/delivery/rollup.ts), the migration's backfill and the stats
 * readers agree on these bounds. Each bucket is at most 1.5 times as wide as its floor
 * (powers of two and the halves between them), exact up to 4 ms.
 */

/** The smallest duration (ms) each bucket holds; a bucket ends where the next begins, the last one never. */
export const BUCKET_FLOORS = [
  0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096,
  6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536,
] as const;

export const BUCKETS = BUCKET_FLOORS.length;

/** The column a bucket is stored in: `ms_<floor>`. */
export const bucketColumn = (i: number) => `ms_${BUCKET_FLOORS[i]}`;

/** The bucket a duration falls in (negative durations count as 0 ms). */
export function bucketOf(ms: number): number {
  let lo = 0;
  let hi = BUCKETS - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (BUCKET_FLOORS[mid] <= ms) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * The p-th percentile (0 < p <= 1) of the durations counted, or null when there are none.
 * Nearest rank (the value at rank ceil(p * n)), found in its bucket and interpolated
 * linearly inside it, between the bucket's floor and its last value (capped by `maxMs`,
 * the largest duration seen). So the estimate always lies in the same bucket as the true
 * value: exact below 4 ms, otherwise off by less than the bucket's width (under half of it).
 */
export function percentile(counts: readonly number[], p: number, maxMs: number | null): number | null {
  const n = counts.reduce((a, b) => a + b, 0);
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(p * n));
  let before = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i];
    if (before + c >= rank) {
      const lo = BUCKET_FLOORS[i];
      const next = i + 1 < BUCKETS ? BUCKET_FLOORS[i + 1] - 1 : Number.POSITIVE_INFINITY;
      const top = Math.max(lo, Math.min(next, maxMs ?? next));
      if (!Number.isFinite(top)) return lo;
      const k = rank - before;
      return Math.min(top, Math.round(lo + ((top - lo) * (k - 0.5)) / c));
    }
    before += c;
  }
  return null;
}
