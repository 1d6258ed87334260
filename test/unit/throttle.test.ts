/**
 * The throttle's arithmetic (core/throttle): permits spaced 1/rate apart and never given twice,
 * places in line for the rest, and the bound that follows: at most 1.1 rate a second over any
 * 10 s window, whatever the order and the number of askers.
 */
import { describe, expect, it } from "vitest";
import { allot, FORGET_AFTER_MS, HORIZON_MS, LATE_MS, MAX_RESERVED, newThrottleState } from "../../src/core/throttle";

const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** The most times in any window of `windowMs` (closed on the left, open on the right). */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j] < sorted[i] - windowMs + 1) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe("permits", () => {
  it("an idle subscription's first permits are spaced 1/rate apart from now, up to the horizon", () => {
    const state = newThrottleState();
    const now = 1_000_000;
    const { permits, waits } = allot(state, 10, ids("d", 25), now);
    expect(permits.map((p) => p.at)).toEqual(Array.from({ length: 21 }, (_, i) => now + i * 100));
    expect(permits.every((p) => p.at <= now + HORIZON_MS)).toBe(true);
    // The rest hold places in line, in order, one interval apart.
    expect(waits.map((w) => w.until)).toEqual([2100, 2200, 2300, 2400].map((d) => now + d));
    expect(waits.every((w) => w.reserved)).toBe(true);
  });

  it("a delivery back at its turn gets the next permit; new deliveries queue behind the line", () => {
    const state = newThrottleState();
    const first = allot(state, 1, ids("d", 5), 0);
    expect(first.permits).toEqual([
      { id: "d0", at: 0 },
      { id: "d1", at: 1000 },
      { id: "d2", at: 2000 },
    ]);
    expect(first.waits).toEqual([
      { id: "d3", until: 3000, reserved: true },
      { id: "d4", until: 4000, reserved: true },
    ]);
    // Too early: still waits for its turn.
    expect(allot(state, 1, ["d3"], 500).waits).toEqual([{ id: "d3", until: 3000, reserved: true }]);
    // Within the horizon: d3 gets the permit after d2's; x, new, queues after d4.
    expect(allot(state, 1, ["x", "d3"], 1500)).toEqual({
      permits: [{ id: "d3", at: 3000 }],
      waits: [{ id: "x", until: 5000, reserved: true }],
    });
  });

  it("a delivery back late takes the next permit at once: no time is kept waiting for it", () => {
    const state = newThrottleState();
    allot(state, 1, ids("d", 5), 0); // permits at 0, 1000, 2000; d3 and d4 in line
    expect(allot(state, 1, ["d3"], 3000).permits).toEqual([{ id: "d3", at: 3000 }]);
    // d4's turn was 4000; back at 6500, it is sent at once, and the next permit is a second later.
    expect(allot(state, 1, ["d4", "y"], 6500)).toEqual({ permits: [{ id: "d4", at: 6500 }, { id: "y", at: 7500 }], waits: [] });
  });

  it("permits are never closer than 1/rate, however the deliveries come back", () => {
    const state = newThrottleState();
    allot(state, 2, ids("d", 20), 0);
    // Everyone comes back at once, early and late: only the next permits within the horizon are handed out.
    const back = allot(state, 2, ids("d", 20), 3000);
    const times = back.permits.map((p) => p.at);
    expect(times).toEqual([3000, 3500, 4000, 4500, 5000]);
  });

  it("the line has a length limit; beyond it deliveries come back without a place", () => {
    const state = newThrottleState();
    const { waits } = allot(state, 1, ids("d", MAX_RESERVED + 10), 0);
    expect(waits.filter((w) => w.reserved)).toHaveLength(MAX_RESERVED);
    const unplaced = waits.filter((w) => !w.reserved);
    expect(unplaced).toHaveLength(7);
    expect(new Set(unplaced.map((w) => w.until)).size).toBe(1);
  });

  it("places whose deliveries never came back are forgotten", () => {
    const state = newThrottleState();
    allot(state, 1, ids("d", 10), 0);
    expect(state.reserved.size).toBe(7);
    allot(state, 1, [], 10_000 + FORGET_AFTER_MS);
    expect(state.reserved.size).toBe(0);
  });
});

describe("the bound: any 10 s window holds at most 1.1 rate a second", () => {
  for (const rate of [1, 3, 10, 250]) {
    it(`rate ${rate}: many askers at random moments, permits used up to LATE_MS late`, () => {
      const state = newThrottleState();
      let seed = rate;
      const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
      const sent: number[] = [];
      const pending = new Map<string, number>(); // id -> when it asks again
      let next = 0;
      for (let t = 0; t < 60_000; t += 50 + Math.floor(random() * 200)) {
        // New deliveries arrive in bursts; deferred ones come back when told (or early).
        const fresh = ids(`n${next++}-`, Math.floor(random() * rate * 2));
        const back = [...pending].filter(([, at]) => at <= t).map(([id]) => id);
        for (const id of back) pending.delete(id);
        const { permits, waits } = allot(state, rate, [...back, ...fresh], t);
        for (const p of permits) sent.push(p.at + Math.floor(random() * LATE_MS));
        for (const w of waits) pending.set(w.id, w.until - Math.floor(random() * HORIZON_MS));
      }
      expect(sent.length).toBeGreaterThan(rate * 50);
      expect(busiestWindow(sent, 10_000)).toBeLessThanOrEqual(Math.floor(11 * rate));
    });
  }
});
