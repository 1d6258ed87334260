/** The retry schedule: pure, so the consumer, the sweep and the tests agree on it. */
export type AttemptVerdict =
  | { kind: "delivered" }
  | { kind: "retry"; delaySeconds: number; nextAttemptAt: number }
  | { kind: "failed" };

/**
 * What follows an attempt. `attemptInSeries` counts from 1 (the first try);
 * schedule[i] is the delay before try i + 2, so there are schedule.length + 1 tries in all.
 * `atLeastSeconds` (a receiver's Retry-After) lengthens the delay, never the number of tries.
 */
export function verdict(
  success: boolean,
  attemptInSeries: number,
  schedule: readonly number[],
  now: number,
  atLeastSeconds = 0,
): AttemptVerdict {
  if (success) return { kind: "delivered" };
  const scheduled = schedule[attemptInSeries - 1];
  if (scheduled === undefined) return { kind: "failed" };
  const delay = Math.max(scheduled, atLeastSeconds);
  return { kind: "retry", delaySeconds: delay, nextAttemptAt: now + delay * 1000 };
}

/** Queues accept delays up to 12 h; anything longer waits for the sweep. */
export const MAX_QUEUE_DELAY_SECONDS = 12 * 60 * 60;
