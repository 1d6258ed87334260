import { describe, expect, it } from "vitest";
import { parseRetrySchedule } from "../../src/config";
import { verdict } from "../../src/core/retry";

describe("the retry schedule", () => {
  const schedule = [1, 10, 60];
  const now = 1_000_000;

  it("retries after 1 s, 10 s and 60 s, then fails: four attempts in all", () => {
    expect(verdict(false, 1, schedule, now)).toEqual({ kind: "retry", delaySeconds: 1, nextAttemptAt: now + 1_000 });
    expect(verdict(false, 2, schedule, now)).toEqual({ kind: "retry", delaySeconds: 10, nextAttemptAt: now + 10_000 });
    expect(verdict(false, 3, schedule, now)).toEqual({ kind: "retry", delaySeconds: 60, nextAttemptAt: now + 60_000 });
    expect(verdict(false, 4, schedule, now)).toEqual({ kind: "failed" });
  });

  it("a success at any attempt ends the delivery", () => {
    for (const n of [1, 2, 3, 4]) expect(verdict(true, n, schedule, now)).toEqual({ kind: "delivered" });
  });

  it("an empty schedule means a single attempt", () => {
    expect(verdict(false, 1, [], now)).toEqual({ kind: "failed" });
  });

  it("reads RETRY_SCHEDULE as comma-separated seconds, and refuses anything else", () => {
    expect(parseRetrySchedule(undefined)).toEqual([1, 10, 60]);
    expect(parseRetrySchedule("1, 10 ,60")).toEqual([1, 10, 60]);
    expect(parseRetrySchedule("0,0")).toEqual([0, 0]);
    expect(() => parseRetrySchedule("1,ten")).toThrow(/RETRY_SCHEDULE/);
    expect(() => parseRetrySchedule("-1")).toThrow(/RETRY_SCHEDULE/);
  });
});

describe("a receiver's Retry-After", () => {
  it("lengthens a retry's delay, never the number of attempts", () => {
    expect(verdict(false, 1, [1, 10, 60], 0, 3)).toEqual({ kind: "retry", delaySeconds: 3, nextAttemptAt: 3000 });
    expect(verdict(false, 3, [1, 10, 60], 0, 3)).toEqual({ kind: "retry", delaySeconds: 60, nextAttemptAt: 60_000 });
    expect(verdict(false, 4, [1, 10, 60], 0, 3600)).toEqual({ kind: "failed" });
  });
});
