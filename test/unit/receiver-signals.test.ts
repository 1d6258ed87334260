/** What a receiver's answer asks for: Retry-After on 429 and 503, 410 Gone. */
import { describe, expect, it } from "vitest";
import { isGone, MAX_RETRY_AFTER_SECONDS, parseHttpDate, retryAfter, verdictFor } from "../../src/core/receiver-signals";

const now = Date.UTC(2026, 10, 23, 12, 0, 0);

describe("Retry-After", () => {
  it("delta-seconds on a 429 or a 503", () => {
    expect(retryAfter(429, "3", now)).toEqual({ seconds: 3, asked: 3, raw: "3" });
    expect(retryAfter(503, " 120 ", now)).toEqual({ seconds: 120, asked: 120, raw: "120" });
    expect(retryAfter(429, "0", now)).toEqual({ seconds: 0, asked: 0, raw: "0" });
  });

  it("an HTTP date, in each of its three forms, counts from now and rounds up", () => {
    expect(retryAfter(429, "Mon, 23 Nov 2026 12:00:30 GMT", now)?.seconds).toBe(30);
    expect(retryAfter(429, "Monday, 23-Nov-26 12:01:00 GMT", now)?.seconds).toBe(60);
    expect(retryAfter(503, "Mon Nov 23 12:00:05 2026", now)?.seconds).toBe(5);
    expect(retryAfter(503, "Mon, 23 Nov 2026 12:00:04 GMT", now - 500)?.seconds).toBe(5);
  });

  it("a date already past asks for no wait", () => {
    expect(retryAfter(429, "Mon, 23 Nov 2026 11:00:00 GMT", now)).toMatchObject({ seconds: 0, asked: 0 });
  });

  it("is capped at an hour, keeping what was asked", () => {
    expect(retryAfter(429, "7200", now)).toEqual({ seconds: MAX_RETRY_AFTER_SECONDS, asked: 7200, raw: "7200" });
    expect(MAX_RETRY_AFTER_SECONDS).toBe(3600);
  });

  it("means nothing on other statuses, and unreadable values are ignored", () => {
    expect(retryAfter(500, "3", now)).toBeNull();
    expect(retryAfter(301, "3", now)).toBeNull();
    expect(retryAfter(429, null, now)).toBeNull();
    for (const bad of ["", "-1", "1.5", "soon", "3 s", "Mon, 31 Nov 2026 12:00:00 GMT", "Mon, 23 Nov 2026 25:00:00 GMT"]) {
      expect(retryAfter(429, bad, now), bad).toBeNull();
    }
  });

  it("parses HTTP dates strictly", () => {
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT")).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    expect(parseHttpDate("Sun Nov  6 08:49:37 1994")).toBe(Date.UTC(1994, 10, 6, 8, 49, 37));
    expect(parseHttpDate("Sun, 06 Nov 1994 08:49:37 PST")).toBeNull();
    expect(parseHttpDate("1994-11-06T08:49:37Z")).toBeNull();
  });
});

describe("the verdict honours the receiver", () => {
  const schedule = [1, 10, 60];
  const failed = (statusCode: number, retryAfterSeconds?: number) => ({ outcome: "http_status", statusCode, retryAfterSeconds });

  it("Retry-After lengthens the wait, still one attempt of the schedule", () => {
    expect(verdictFor(failed(429, 3), 1, schedule, now)).toEqual({ kind: "retry", delaySeconds: 3, nextAttemptAt: now + 3000 });
    // The schedule's own delay wins when it is longer.
    expect(verdictFor(failed(429, 3), 2, schedule, now)).toEqual({ kind: "retry", delaySeconds: 10, nextAttemptAt: now + 10_000 });
    // The last attempt of the schedule fails the delivery whatever the receiver asked.
    expect(verdictFor(failed(503, 3), 4, schedule, now)).toEqual({ kind: "failed" });
  });

  it("410 Gone fails the delivery at once", () => {
    expect(isGone({ outcome: "http_status", statusCode: 410 })).toBe(true);
    expect(isGone({ outcome: "success", statusCode: 410 })).toBe(false);
    expect(verdictFor(failed(410), 1, schedule, now)).toEqual({ kind: "failed" });
  });

  it("anything else follows the schedule", () => {
    expect(verdictFor(failed(500), 1, schedule, now)).toEqual({ kind: "retry", delaySeconds: 1, nextAttemptAt: now + 1000 });
    expect(verdictFor({ outcome: "success", statusCode: 200 }, 1, schedule, now)).toEqual({ kind: "delivered" });
  });
});
