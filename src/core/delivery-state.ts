/**
 * A delivery's statuses and the moves between them, and how long a claim holds one:
 * pure, so src/delivery/lifecycle.ts (the only writer of a delivery's state), the
 * consumer and the tests agree on them.
 */
import type { Config } from "../config";
import type { AttemptVerdict } from "./retry";
import { HORIZON_MS, LATE_MS } from "./throttle";

export const DELIVERY_STATUSES = ["pending", "in_flight", "delivered", "failed", "skipped"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

interface Transition {
  from: readonly DeliveryStatus[];
  to: readonly DeliveryStatus[];
}

/** Every transition the lifecycle makes; `from: []` creates the delivery (purging the log deletes finished ones). */
export const TRANSITIONS = {
  /** Emit: pending when its subscription is active, skipped when it is not. */
  create: { from: [], to: ["pending", "skipped"] },
  /** A test send goes out before it is recorded, so it is written in flight and settled in the same batch. */
  createTestSend: { from: [], to: ["in_flight"] },
  /**
   * A consumer takes it, with a lease: one row for its whole batch (src/delivery/lifecycle.ts
   * claim), the delivery's own row untouched; it reads as in_flight while the lease holds it.
   */
  claim: { from: ["pending"], to: ["in_flight"] },
  /** Its subscription was switched off or deleted, or its listen session closed. */
  skip: { from: ["pending"], to: ["skipped"] },
  /** Claimed, but its subscription's throttle gave no permit: waits again, no attempt counted. */
  defer: { from: ["in_flight"], to: ["pending"] },
  /** What follows an attempt: see verdict in ./retry. */
  settle: { from: ["in_flight"], to: ["delivered", "pending", "failed"] },
  /** The consumer's lease ran out before it settled (a row written as in_flight: the sweep). */
  releaseLease: { from: ["in_flight"], to: ["pending"] },
  /** A fresh series of attempts, asked for one delivery. */
  redeliver: { from: ["delivered", "failed", "skipped"], to: ["pending"] },
  /** A fresh series for a subscription's failures over a time window. */
  recover: { from: ["failed", "skipped"], to: ["pending"] },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;

/** Whether any transition moves a delivery from `from` to `to`. */
export const canMove = (from: DeliveryStatus, to: DeliveryStatus): boolean =>
  Object.values(TRANSITIONS).some((t: Transition) => t.from.includes(from) && t.to.includes(to));

/** Nothing is in flight and nothing more will be sent unless someone asks. */
export const isFinished = (status: DeliveryStatus): boolean =>
  status === "delivered" || status === "failed" || status === "skipped";

/**
 * When the delivery's next attempt is due, null once it is finished. A new delivery is stored
 * with no next_attempt_at until the sweep gives it one (src/delivery/lifecycle.ts NewDelivery):
 * it was due when it was created.
 */
export const dueAt = (d: { status: DeliveryStatus; nextAttemptAt: number | null; createdAt: number }): number | null =>
  d.nextAttemptAt ?? (d.status === "pending" || d.status === "in_flight" ? d.createdAt : null);

export const initialStatus = (subscriptionActive: boolean): "pending" | "skipped" => (subscriptionActive ? "pending" : "skipped");

/** The status an attempt's verdict leaves its delivery in: a retry waits as pending. */
export const statusAfter = (v: AttemptVerdict): "delivered" | "pending" | "failed" => (v.kind === "retry" ? "pending" : v.kind);

/** The Workers limit on simultaneous outbound connections: the consumer sends this many at once. */
export const MAX_CONNECTIONS = 6;

/**
 * How long a claim holds the delivery at `position` (0-based) in its batch's send order. The
 * consumer sends over MAX_CONNECTIONS lanes, each taking the next delivery when its last ends,
 * so the delivery at `position` starts within floor(position / MAX_CONNECTIONS) attempts of
 * DELIVERY_TIMEOUT_MS each and ends one attempt later; 30 s more cover recording it. Shorter,
 * and the sweep takes back a delivery the batch is still sending, for a concurrent consumer to
 * send again; one lease for the whole batch, and the first deliveries of a big batch whose
 * consumer died would wait as long as its last (250 deliveries: 450 s instead of 40 s).
 */
export const leaseMs = (config: Pick<Config, "deliveryTimeoutMs">, position = 0) =>
  (Math.floor(Math.max(position, 0) / MAX_CONNECTIONS) + 1) * config.deliveryTimeoutMs + 30_000;

/**
 * A throttled delivery goes after every unthrottled one and may wait HORIZON_MS (plus
 * LATE_MS) for its permit first, wherever it stood in the batch: it holds the whole batch's lease.
 */
export const batchLeaseMs = (config: Pick<Config, "deliveryTimeoutMs">, batchSize: number) =>
  leaseMs(config, batchSize - 1) + HORIZON_MS + LATE_MS;
