/**
 * Which attempts the subscription's failure counter (its Durable Object) must hear of, and in
 * what order. It counts failures in the order they are reported and resets on a reported
 * success, so: every failure; a success only while the counter may be above zero (a healthy
 * endpoint costs no call); and, per subscription, in the order the attempts ended, so that a
 * success that ended after a failure resets it, and one that ended before does not.
 */
export interface CounterAttempt {
  subscriptionId: string;
  success: boolean;
  /** When the attempt's answer came (started_at + duration). */
  endedAt: number;
  /** The subscription's consecutive_failures when its delivery was claimed. */
  failuresAtClaim: number;
}

/**
 * The attempts to report, grouped per subscription in the order they ended. `mayBeAboveZero`
 * carries what earlier reports of the same invocation left behind, and is updated.
 */
export function counterReports<T extends CounterAttempt>(attempts: T[], mayBeAboveZero: Map<string, boolean>): T[][] {
  const bySubscription = new Map<string, T[]>();
  // On a tie the success goes last: the counter then errs toward a later switch-off, never an early one.
  for (const a of [...attempts].sort((x, y) => x.endedAt - y.endedAt || Number(x.success) - Number(y.success))) {
    bySubscription.set(a.subscriptionId, [...(bySubscription.get(a.subscriptionId) ?? []), a]);
  }
  const groups: T[][] = [];
  for (const [subscriptionId, list] of bySubscription) {
    let aboveZero = mayBeAboveZero.get(subscriptionId) ?? list[0].failuresAtClaim > 0;
    const reported = list.filter((a) => {
      if (!a.success) return (aboveZero = true);
      if (!aboveZero) return false;
      aboveZero = false;
      return true;
    });
    mayBeAboveZero.set(subscriptionId, aboveZero);
    if (reported.length) groups.push(reported);
  }
  return groups;
}
