/**
 * A subscription's throttle: `rate` sends a second, spaced evenly. Pure, so the subscription's
 * Durable Object (which keeps the state where every consumer sees it) and the tests agree on it.
 *
 * Each delivery asked about gets a send time (a permit) or a time to come back. Send times
 * are handed out one `1000 / rate` ms after another and never twice, so any window of W ms
 * holds at most W * rate / 1000 + 1 of them. A permit is used between its time and LATE_MS
 * after it, or given up: receipts then spread from their send times by LATE_MS plus the
 * network's jitter, which keeps any 10 s window within 1.1 rate a second while that stays
 * under about 0.75 s.
 *
 * A delivery refused a permit holds a place in line (a reserved send time) and comes back
 * shortly before it: a backlog is sent in order with no churn. A place missed by more than
 * LATE_MS is forgotten, and the delivery queues again at the end of the line.
 */

/** A permit's time is at most this far ahead: the consumer waits for it. */
export const HORIZON_MS = 2_000;
/** A permit not used within this long after its time is given up, its delivery deferred. */
export const LATE_MS = 250;
/** Places in line kept per subscription; further deliveries come back without one. */
export const MAX_RESERVED = 10_000;
/** A place whose time passed this long ago (its delivery never came back) is forgotten. */
export const FORGET_AFTER_MS = 60_000;

export const MIN_RATE = 1;
export const MAX_RATE = 10_000;

export interface ThrottleState {
  /** The next free send time: after the last permit and the last reserved place. */
  next: number;
  /** Deliveries holding a place in line, id to send time, in the order the times were given. */
  reserved: Map<string, number>;
}

export const newThrottleState = (next = 0): ThrottleState => ({ next, reserved: new Map() });

export interface Allotment {
  /** Send at `at` (ms since the epoch), no later than `at + LATE_MS`. */
  permits: { id: string; at: number }[];
  /** Claim again at `until`; `reserved` when a place in line waits for it. */
  waits: { id: string; until: number; reserved: boolean }[];
}

/** Permits or places for `ids`, in order, at `rate` per second. Changes `state`. */
export function allot(state: ThrottleState, rate: number, ids: readonly string[], now: number): Allotment {
  const interval = 1000 / rate;
  const horizon = now + HORIZON_MS;
  forget(state, now);
  const permits: Allotment["permits"] = [];
  const waits: Allotment["waits"] = [];
  for (const id of ids) {
    const held = state.reserved.get(id);
    if (held !== undefined) {
      if (held > horizon) {
        waits.push({ id, until: held, reserved: true });
        continue;
      }
      state.reserved.delete(id);
      if (held >= now - LATE_MS) {
        permits.push({ id, at: held });
        continue;
      }
      // Its place passed unused: it queues again.
    }
    const at = Math.max(state.next, now);
    if (at <= horizon) {
      permits.push({ id, at });
      state.next = at + interval;
    } else if (state.reserved.size < MAX_RESERVED) {
      state.reserved.set(id, at);
      waits.push({ id, until: at, reserved: true });
      state.next = at + interval;
    } else {
      // The line is full: come back when it has moved on, without a place.
      waits.push({ id, until: at, reserved: false });
    }
  }
  return { permits, waits };
}

/** Drops the places whose time passed FORGET_AFTER_MS ago: the oldest come first. */
function forget(state: ThrottleState, now: number): void {
  for (const [id, at] of state.reserved) {
    if (at >= now - FORGET_AFTER_MS) break;
    state.reserved.delete(id);
  }
}
