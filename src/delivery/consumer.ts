/**
 * The queue consumer: claim the batch, send each claimed delivery (six at a time,
 * the Workers connection limit), and record outcomes as they come: an outcome waits
 * at most RECORD_WINDOW_MS for others to share its D1 round trip, so a batch of prompt
 * receivers records once, and a receiver that hangs holds back no one else's record.
 * The subscription's Durable Object hears only of failures and recoveries, and is asked
 * for permits when the subscription is throttled (./throttle). Each
 * message's typed outcome becomes ack() or a retry with its delay.
 */
import { type Config, loadConfig } from "../config";
import { batchLeaseMs, leaseMs, MAX_CONNECTIONS } from "../core/delivery-state";
import { counterReports } from "../core/failure-counter";
import { isGone, verdictFor } from "../core/receiver-signals";
import { MAX_QUEUE_DELAY_SECONDS } from "../core/retry";
import { count } from "../metrics";
import { type DeliveryMessage, enqueueDeliveries, idsOf } from "../services/enqueue";
import { reportExhausted, summarizeAttempt } from "../services/operational";
import { shardOf } from "../db/shards";
import { healthOf } from "./health";
import { type ClaimedDelivery, claim, type Recorded, settle, withLeaseSlot } from "./lifecycle";
import { sendAttempt } from "./send";
import { throttleGate } from "./throttle";

const CLAIM_RETRY_SECONDS = 5;

/** Runs `work` over `items`, at most `limit` at once. */
export async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await work(items[i]);
    }
  });
  await Promise.all(lanes);
  return results;
}

const attemptOutcome = async (env: Env, config: Config, d: ClaimedDelivery): Promise<Recorded> => {
  const attempt = await sendAttempt(env, config, d.target, d.event, d.id, d.attemptNumber);
  count("deliveries", "attempts");
  if (attempt.outcome === "success") count("deliveries", "succeeded");
  return { attempt, verdict: verdictFor(attempt, d.attemptInSeries, config.retrySchedule, Date.now()) };
};

/**
 * Tells the subscriptions' failure counters what they must hear (core/failure-counter): a
 * healthy endpoint costs no Durable Object call. Per subscription in the order the attempts
 * ended; subscriptions in parallel.
 */
export async function reportHealth(env: Env, outcomes: Outcome[], mayBeAboveZero: Map<string, boolean>): Promise<void> {
  const groups = counterReports(
    outcomes.map((o) => ({
      ...o,
      subscriptionId: o.delivery.target.id,
      success: o.result.attempt.outcome === "success",
      endedAt: o.result.attempt.startedAt + o.result.attempt.durationMs,
      failuresAtClaim: o.delivery.consecutiveFailures,
    })),
    mayBeAboveZero,
  );
  const settled = await Promise.allSettled(
    groups.map(async (group) => {
      const stub = healthOf(env, group[0].subscriptionId);
      for (const a of group) {
        const attempt = a.success ? undefined : summarizeAttempt(a.delivery.target, a.result.attempt);
        const report = () =>
          isGone(a.result.attempt)
            ? stub.gone(a.subscriptionId, a.result.attempt.id, attempt, shardOf(env))
            : stub.report(a.subscriptionId, a.result.attempt.id, a.success, attempt, shardOf(env));
        // Idempotent by attempt id, so one retry cannot count twice.
        await report().catch(report);
      }
    }),
  );
  for (const s of settled) if (s.status === "rejected") console.error("failure counter not updated:", String(s.reason));
}

/** How long an outcome may wait for others to share its round trip: well within a second of its answer. */
export const RECORD_WINDOW_MS = 300;

export async function handleDeliveryBatch(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  const config = loadConfig(env);
  const ids = [...new Set(batch.messages.flatMap((m) => idsOf(m.body)))];
  // One lease row for the batch (lifecycle's claim), in this isolate's slot until the batch ends.
  await withLeaseSlot(async (slot) => {
    let claimed: ClaimedDelivery[];
    try {
      // Sent in this order (the throttled last, see ./throttle), so each is leased by its place in it.
      const leases = { byPosition: ids.map((_, i) => leaseMs(config, i)), throttled: batchLeaseMs(config, ids.length) };
      claimed = ids.length ? await claim(env, ids, Date.now(), leases, slot) : [];
    } catch (err) {
      console.error("claim failed, messages retried:", err instanceof Error ? err.message : err);
      batch.retryAll({ delaySeconds: CLAIM_RETRY_SECONDS });
      return;
    }
    const gate = await throttleGate(env, claimed);
    const recorder = new OutcomeRecorder(env, batch.messages, gate.send.length);
    await pool(gate.send, MAX_CONNECTIONS, async (d) => (await gate.turn(d)) && recorder.add(d, await attemptOutcome(env, config, d)));
    await Promise.all([recorder.finish(), gate.finish()]);
  });
}

interface Outcome {
  delivery: ClaimedDelivery;
  result: Recorded;
}

/**
 * Records a batch's outcomes in as few D1 round trips as promptness allows, and answers each
 * message once every delivery it holds is recorded. A retry goes back on the message itself
 * (message.retry with its delay) only when that message holds nothing else and the batch has
 * ended; otherwise (a message of several deliveries, or a flush before the batch ends, when
 * message.retry() would not yet take effect) it goes out as a message of its own, with its
 * delay, and the original is acked.
 */
class OutcomeRecorder {
  private buffer: Outcome[] = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private flushing: Promise<void> = Promise.resolve();
  private received = 0;
  private readonly byDelivery = new Map<string, Message<DeliveryMessage>[]>();
  /** Per message: its deliveries not yet recorded. */
  private readonly waiting = new Map<Message<DeliveryMessage>, Set<string>>();
  private readonly answered = new Set<Message<DeliveryMessage>>();
  /** Per subscription: whether its failure counter may be above zero after this invocation's reports. */
  private readonly counters = new Map<string, boolean>();

  constructor(
    private readonly env: Env,
    private readonly messages: readonly Message<DeliveryMessage>[],
    private readonly expected: number,
  ) {
    for (const m of messages) {
      const ids = new Set(idsOf(m.body));
      this.waiting.set(m, ids);
      for (const id of ids) this.byDelivery.set(id, [...(this.byDelivery.get(id) ?? []), m]);
    }
  }

  add(delivery: ClaimedDelivery, result: Recorded): void {
    this.buffer.push({ delivery, result });
    if (++this.received === this.expected) this.flush(false);
    else this.timer ??= setTimeout(() => this.flush(true), RECORD_WINDOW_MS);
  }

  /** Waits for every flush, then settles the messages of deliveries never claimed (acked: nothing to send). */
  async finish(): Promise<void> {
    if (this.buffer.length) this.flush(false);
    await this.flushing;
    for (const message of this.messages) this.answer(message, undefined);
  }

  private flush(early: boolean): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const outcomes = this.buffer;
    this.buffer = [];
    this.flushing = this.flushing.then(() => this.record(outcomes, early));
  }

  private async record(outcomes: Outcome[], early: boolean): Promise<void> {
    const results = outcomes.map((o) => o.result);
    // The counter first, so that once a delivery reads as settled, its subscription's
    // consecutive_failures (and any deactivation) already count its attempt.
    await reportHealth(this.env, outcomes, this.counters);
    try {
      await settle(this.env, results, Date.now());
      await reportExhausted(this.env, outcomes);
    } catch (err) {
      // The lease runs out and the sweep sends these again: at least once, never lost.
      console.error("recording attempts failed:", err instanceof Error ? err.message : err);
    }
    const ownMessages = new Map<number, string[]>();
    for (const { result } of outcomes) {
      const id = result.attempt.deliveryId;
      const delay = result.verdict.kind === "retry" && result.verdict.delaySeconds <= MAX_QUEUE_DELAY_SECONDS ? result.verdict.delaySeconds : undefined;
      const messages = this.byDelivery.get(id) ?? [];
      this.byDelivery.delete(id);
      // One retry per delivery, even when the queue handed the same delivery in two messages.
      const carrier = !early && delay !== undefined ? messages.find((m) => idsOf(m.body).length === 1 && !this.answered.has(m)) : undefined;
      if (delay !== undefined && !carrier) ownMessages.set(delay, [...(ownMessages.get(delay) ?? []), id]);
      for (const m of messages) {
        const left = this.waiting.get(m);
        left?.delete(id);
        if (m === carrier) this.answer(m, delay);
        else if (!left?.size) this.answer(m, undefined);
      }
    }
    // Messages of their own (counted as messages sent), one sendBatch per delay; should sending
    // fail, the sweep finds them due in D1.
    await Promise.all([...ownMessages].map(([delay, ids]) => enqueueDeliveries(this.env, ids, delay)));
  }

  private answer(message: Message<DeliveryMessage>, retryDelay: number | undefined): void {
    if (this.answered.has(message)) return;
    this.answered.add(message);
    if (retryDelay !== undefined) {
      message.retry({ delaySeconds: retryDelay });
      count("queue", "retries");
    } else {
      message.ack();
      count("queue", "acks");
    }
  }
}
