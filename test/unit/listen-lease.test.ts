/** Which listen sockets lost their lease, and when the session's object looks again. */
import { expect, it } from "vitest";
import { leaseVerdict } from "../../src/core/listen-lease";

const LEASE = 60_000;
const NOW = 1_000_000;

it("a socket not heard from for a whole lease is silent; the next look is a lease after the oldest live one", () => {
  expect(leaseVerdict([NOW - LEASE, NOW - 10_000, NOW - 30_000], NOW, LEASE)).toEqual({ silent: [0], recheckAt: NOW - 30_000 + LEASE });
  expect(leaseVerdict([NOW - LEASE + 1], NOW, LEASE)).toEqual({ silent: [], recheckAt: NOW + 1_000 });
});

it("no live socket: nothing to look at again", () => {
  expect(leaseVerdict([], NOW, LEASE)).toEqual({ silent: [], recheckAt: null });
  expect(leaseVerdict([0, NOW - 2 * LEASE], NOW, LEASE)).toEqual({ silent: [0, 1], recheckAt: null });
});

it("a socket heard from just now is looked at a lease later, never sooner than a second", () => {
  expect(leaseVerdict([NOW], NOW, LEASE).recheckAt).toBe(NOW + LEASE);
  expect(leaseVerdict([NOW], NOW, 500).recheckAt).toBe(NOW + 1_000);
});
