/** The delivery's statuses: which moves exist, and which never happen. */
import { describe, expect, it } from "vitest";
import {
  canMove,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  initialStatus,
  isFinished,
  statusAfter,
  TRANSITIONS,
} from "../../src/core/delivery-state";
import { verdict } from "../../src/core/retry";

const moves = (from: DeliveryStatus) => DELIVERY_STATUSES.filter((to) => canMove(from, to));

describe("the delivery's transitions", () => {
  it("pending is claimed or skipped; only a claim puts it in flight", () => {
    expect(moves("pending")).toEqual(["in_flight", "skipped"]);
  });

  it("in flight ends in an attempt's verdict, or back to pending when its lease runs out", () => {
    expect(moves("in_flight")).toEqual(["pending", "delivered", "failed"]);
  });

  it("a finished delivery only starts a fresh series; a delivered one is redelivered, never recovered", () => {
    expect(moves("delivered")).toEqual(["pending"]);
    expect(moves("failed")).toEqual(["pending"]);
    expect(moves("skipped")).toEqual(["pending"]);
    expect(TRANSITIONS.recover.from).not.toContain("delivered");
    expect(TRANSITIONS.redeliver.from).toContain("delivered");
  });

  it("nothing skips a delivery in flight, nor settles one that was not claimed", () => {
    expect(canMove("in_flight", "skipped")).toBe(false);
    expect(canMove("pending", "delivered")).toBe(false);
    expect(canMove("pending", "failed")).toBe(false);
    expect(canMove("delivered", "failed")).toBe(false);
  });

  it("every status is reachable, and every transition names real statuses", () => {
    const reached = new Set(Object.values(TRANSITIONS).flatMap((t) => [...t.to]));
    expect([...reached].sort()).toEqual([...DELIVERY_STATUSES].sort());
    for (const t of Object.values(TRANSITIONS)) {
      for (const s of [...t.from, ...t.to]) expect(DELIVERY_STATUSES).toContain(s);
    }
  });

  it("finished means neither to be sent nor in flight", () => {
    expect(DELIVERY_STATUSES.filter(isFinished)).toEqual(["delivered", "failed", "skipped"]);
    expect([...TRANSITIONS.redeliver.from]).toEqual(DELIVERY_STATUSES.filter(isFinished));
  });
});

describe("the status a step leaves", () => {
  it("emit writes pending for an active subscription, skipped for one switched off", () => {
    expect(initialStatus(true)).toBe("pending");
    expect(initialStatus(false)).toBe("skipped");
  });

  it("an attempt's verdict: delivered, a retry waiting as pending, or failed", () => {
    const now = 1_000;
    expect(statusAfter(verdict(true, 1, [1], now))).toBe("delivered");
    expect(statusAfter(verdict(false, 1, [1], now))).toBe("pending");
    expect(statusAfter(verdict(false, 2, [1], now))).toBe("failed");
    for (const v of [verdict(true, 1, [1], now), verdict(false, 1, [1], now), verdict(false, 2, [1], now)]) {
      expect(TRANSITIONS.settle.to).toContain(statusAfter(v));
    }
  });
});
