/**
 * What the stats should say, computed from the delivery log itself (as GET /v1/deliveries/{id}
 * shows it): exact counts, and the exact nearest-rank percentiles the estimates stand for.
 * Shared by the Workers-runtime and end-to-end tests.
 */
import { expect } from "vitest";
import { bucketOf, BUCKET_FLOORS } from "../src/core/duration-histogram";

export interface LoggedAttempt {
  started_at: string;
  duration_ms: number;
  outcome: string;
}

export interface LoggedDelivery {
  status: string;
  attempts: LoggedAttempt[];
}

const HOUR = 3_600_000;

const nearestRank = (sorted: number[], p: number) => (sorted.length ? sorted[Math.max(1, Math.ceil(p * sorted.length)) - 1] : null);

/** The figures of the window starting at `from` (ms), from the log. */
export function truthOf(log: LoggedDelivery[], from: number) {
  const attempts = log.flatMap((d) => d.attempts).filter((a) => Date.parse(a.started_at) >= from);
  const durations = attempts.map((a) => a.duration_ms).sort((a, b) => a - b);
  const succeeded = attempts.filter((a) => a.outcome === "success").length;
  return {
    attempts: attempts.length,
    succeeded,
    failed: attempts.length - succeeded,
    deliveries_failed: log.filter((d) => d.status === "failed" && Date.parse(d.attempts[d.attempts.length - 1].started_at) >= from).length,
    p50: nearestRank(durations, 0.5),
    p95: nearestRank(durations, 0.95),
  };
}

/** Attempts per hour, by outcome, from the log. */
export function hourlyOf(log: LoggedDelivery[]) {
  const hours = new Map<string, { attempts: number; succeeded: number; http_status: number; timeout: number; network: number }>();
  for (const a of log.flatMap((d) => d.attempts)) {
    const t = Date.parse(a.started_at);
    const hour = new Date(t - (t % HOUR)).toISOString();
    const h = hours.get(hour) ?? { attempts: 0, succeeded: 0, http_status: 0, timeout: 0, network: 0 };
    h.attempts++;
    if (a.outcome === "success") h.succeeded++;
    else h[a.outcome as "http_status" | "timeout" | "network"]++;
    hours.set(hour, h);
  }
  return hours;
}

/** The bucket a duration falls in, as a readable range (for failure messages). */
export const bucketRange = (ms: number) => {
  const i = bucketOf(ms);
  return `[${BUCKET_FLOORS[i]}, ${BUCKET_FLOORS[i + 1] ?? "∞"})`;
};

/** Every window of a stats answer against the log: counts exactly, percentiles in the true value's bucket. */
export function expectStatsMatchLog(stats: any, log: LoggedDelivery[]) {
  for (const name of ["hour", "day", "week"]) {
    const w = stats[name];
    const truth = truthOf(log, Date.parse(w.from));
    expect(
      { attempts: w.attempts, succeeded: w.succeeded, failed: w.failed, deliveries_failed: w.deliveries_failed },
      name,
    ).toEqual({ attempts: truth.attempts, succeeded: truth.succeeded, failed: truth.failed, deliveries_failed: truth.deliveries_failed });
    expect(w.success_rate, name).toBeCloseTo(truth.succeeded / truth.attempts, 4);
    for (const [field, exact] of [["p50_ms", truth.p50], ["p95_ms", truth.p95]] as const) {
      expect(exact, `${name} ${field}`).not.toBeNull();
      expect(bucketRange(w[field]), `${name} ${field}: ${w[field]} ms estimated, ${exact} ms exact`).toBe(bucketRange(exact!));
    }
  }
}
