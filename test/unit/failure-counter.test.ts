/** What the failure counter hears, and in what order (core/failure-counter). */
import { describe, expect, it } from "vitest";
import { counterReports } from "../../src/core/failure-counter";

const attempt = (subscriptionId: string, success: boolean, endedAt: number, failuresAtClaim = 0) => ({
  subscriptionId,
  success,
  endedAt,
  failuresAtClaim,
});
const names = (groups: ReturnType<typeof attempt>[][]) => groups.map((g) => g.map((a) => `${a.success ? "ok" : "fail"}@${a.endedAt}`));

describe("counterReports", () => {
  it("a healthy endpoint is never reported", () => {
    expect(counterReports([attempt("s", true, 3), attempt("s", true, 1)], new Map())).toEqual([]);
  });

  it("failures always; a success only after a failure, in the order the attempts ended", () => {
    const groups = counterReports([attempt("s", true, 30), attempt("s", false, 20), attempt("s", true, 10), attempt("s", true, 40)], new Map());
    // The success that ended before the failure tells nothing; the first after it resets.
    expect(names(groups)).toEqual([["fail@20", "ok@30"]]);
  });

  it("a success and a failure that ended together: the success counts as the later one", () => {
    expect(names(counterReports([attempt("s", true, 5), attempt("s", false, 5)], new Map()))).toEqual([["fail@5", "ok@5"]]);
  });

  it("a success is reported when the counter was above zero at claim time, once", () => {
    expect(names(counterReports([attempt("s", true, 2, 3), attempt("s", true, 1, 3)], new Map()))).toEqual([["ok@1"]]);
  });

  it("remembers across the flushes of one invocation, per subscription", () => {
    const state = new Map<string, boolean>();
    expect(names(counterReports([attempt("a", false, 1), attempt("b", true, 2)], state))).toEqual([["fail@1"]]);
    expect(names(counterReports([attempt("a", true, 3), attempt("b", true, 4)], state))).toEqual([["ok@3"]]);
    expect(counterReports([attempt("a", true, 5)], state)).toEqual([]);
  });
});
