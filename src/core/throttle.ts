/**
 * A subscription's throttle: `rate` sends a second, spaced evenly. Pure, so the subscription's
 * Durable Object (which keeps the state where every consumer sees it) and the tests agree on it.
 *
 * Each delivery asked about gets a permit (a send time) or a time to come back. Permits are
 * handed out one `1000 / rate` ms after another and never twice, so any window of W ms holds at
 * most W * rate / 1000 + 1 of them. A permit is used between its time and LATE_MS after it, or
 * given up: receipts then spread from their send times by LATE_MS plus the network's jitter,
 * which keeps any 10 s window within 1.1 rate a second while that stays under about 0.75 s.
 *
 * A delivery refused a permit holds a place in line: an estimate of its turn, when it comes back.
 * Permits go to whoever is there when its turn comes, so a delivery back late takes the next
 * permit (no time is wasted waiting for it), and new deliveries queue behind the line.
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
  /** The earliest time of the next permit: the last permit's time plus one interval. */
  next: number;
  /** The estimated turn after the last place in line. */
  lineEnd: number;
  /** Deliveries holding a place in line, id to the estimated time of their turn. */
  reserved: Map<string, number>;
  /** When places were last looked through for ones to forget. */
  forgotAt: number;
}

export const newThrottleState = (next = 0): ThrottleState => ({ next, lineEnd: 0, reserved: new Map(), forgotAt: 0 });

export interface Allotment {
  /** Send at `at` (ms since the epoch), no later than `at + LATE_MS`. */
  permits: { id: string; at: number }[];
  /** Claim again at `until`; `reserved` when a place in line waits for it. */
  waits: { id: string; until: number; reserved: boolean }[];
}

/** Permits or places for `ids`, in order, at `rate` per second. Changes `state`. */
export function allot(state: ThrottleState, rate: number, ids: readonly string[], now: number): Allotment {
  const interval = 1000 / Math.min(Math.max(rate, MIN_RATE), MAX_RATE);
  const horizon = now + HORIZON_MS;
  forget(state, now);
  const permits: Allotment["permits"] = [];
  const waits: Allotment["waits"] = [];
  for (const id of ids) {
    const place = state.reserved.get(id);
    if (place !== undefined && place > horizon) {
      waits.push({ id, until: place, reserved: true });
      continue;
    }
    // A new delivery queues behind a line that reaches past the horizon.
    const end = Math.max(state.lineEnd, state.next);
    if (place === undefined && end > horizon) {
      if (state.reserved.size >= MAX_RESERVED) {
        // The line is full: come back when it has moved on, without a place.
        waits.push({ id, until: end, reserved: false });
      } else {
        state.reserved.set(id, end);
        state.lineEnd = end + interval;
        waits.push({ id, until: end, reserved: true });
      }
      continue;
    }
    const at = Math.max(state.next, now);
    if (at <= horizon) {
      state.reserved.delete(id);
      permits.push({ id, at });
      state.next = at + interval;
      continue;
    }
    // Its turn came (it holds a place), but the permits within the horizon are taken: it keeps
    // its place, now the first permit's time after them.
    state.reserved.set(id, at);
    waits.push({ id, until: at, reserved: true });
  }
  return { permits, waits };
}

/** Drops the places whose time passed FORGET_AFTER_MS ago (their deliveries never came back), every few seconds. */
function forget(state: ThrottleState, now: number): void {
  if (now - state.forgotAt < FORGET_AFTER_MS / 6) return;
  state.forgotAt = now;
  for (const [id, at] of state.reserved) if (at < now - FORGET_AFTER_MS) state.reserved.delete(id);
}
