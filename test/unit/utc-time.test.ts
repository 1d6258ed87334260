/** The one way the dashboard writes and reads a time: ISO 8601 in UTC, to the second. */
import { describe, expect, it } from "vitest";
import { formatUtc, parseUtc } from "../../src/core/utc-time";

const T = Date.UTC(2026, 10, 30, 8, 47, 56);

describe("formatUtc", () => {
  it("writes YYYY-MM-DD HH:MM:SS UTC, zero-padded, whatever the locale", () => {
    expect(formatUtc(T)).toBe("2026-11-30 08:47:56 UTC");
    expect(formatUtc(Date.UTC(2027, 0, 2, 3, 4, 5, 999))).toBe("2027-01-02 03:04:05 UTC");
  });
});

describe("parseUtc", () => {
  it("reads back what formatUtc writes, and the ISO spellings people paste", () => {
    expect(parseUtc(formatUtc(T))).toBe(T);
    for (const text of ["2026-11-30 08:47:56", "2026-11-30T08:47:56Z", "2026-11-30T08:47:56", " 2026-11-30 08:47:56 utc ", "2026-11-30 08:47:56Z"]) {
      expect(parseUtc(text), text).toBe(T);
    }
    expect(parseUtc("2026-11-30 08:47")).toBe(T - 56_000);
    expect(parseUtc("2026-11-30T08:47:56.250Z")).toBe(T + 250);
  });

  it("refuses what is ambiguous or not a time", () => {
    for (const text of [
      "11/30/2026, 08:47:56 AM",
      "30/11/2026 08:47",
      "2026-11-30",
      "2026-02-30 08:00:00 UTC",
      "2026-11-30 24:00:00 UTC",
      "2026-11-30 08:47:56 CET",
      "2026-11-30 08:47:56+01:00",
      "",
      "yesterday",
    ]) {
      expect(parseUtc(text), text).toBeNull();
    }
  });
});
