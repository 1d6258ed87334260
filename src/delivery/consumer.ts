/**
 * The queue consumer: claim the batch, send each claimed delivery (six at a time,
 * the Workers connection limit), record every attempt in one D1 batch, tell the
 * subscription's Durable Object only about failures and recoveries, then turn each
 * message's typed outcome into ack() or retry({ delaySeconds }).
 */
import { type Config, loadConfig } from "../config";
import { leaseMs, MAX_CONNECTIONS } from "../core/delivery-state";
import { MAX_QUEUE_DELAY_SECONDS, verdict } from "../core/retry";
import { count } from "../metrics";
import type { DeliveryMessage } from "../services/enqueue";
import { healthOf } from "./health";
import { type ClaimedDelivery, claim, type Recorded, settle } from "./lifecycle";
import { sendAttempt } from "./send";

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

export async function attemptDeliveries(env: Env, config: Config, claimed: ClaimedDelivery[]): Promise<Recorded[]> {
  return pool(claimed, MAX_CONNECTIONS, async (d) => {
    const attempt = await sendAttempt(env, config, d.target, d.event, d.id, d.attemptNumber);
    count("deliveries", "attempts");
    if (attempt.outcome === "success") count("deliveries", "succeeded");
    return { attempt, verdict: verdict(attempt.outcome === "success", d.attemptInSeries, config.retrySchedule, Date.now()) };
  });
}

/** A healthy endpoint costs no Durable Object call: only failures and the first success after them. */
export async function reportHealth(env: Env, claimed: ClaimedDelivery[], results: Recorded[]): Promise<void> {
  const calls = results
    .map((r, i) => ({ r, d: claimed[i] }))
    .filter(({ r, d }) => r.attempt.outcome !== "success" || d.consecutiveFailures > 0)
    .map(async ({ r, d }) => {
      const stub = healthOf(env, d.target.id);
      const report = () => stub.report(d.target.id, r.attempt.id, r.attempt.outcome === "success");
      // Idempotent by attempt id, so one retry cannot count twice.
      await report().catch(report);
    });
  const settled = await Promise.allSettled(calls);
  for (const s of settled) if (s.status === "rejected") console.error("failure counter not updated:", String(s.reason));
}

export async function handleDeliveryBatch(batch: MessageBatch<DeliveryMessage>, env: Env): Promise<void> {
  const config = loadConfig(env);
  const ids = [...new Set(batch.messages.map((m) => m.body?.id).filter((id): id is string => typeof id === "string"))];
  let claimed: ClaimedDelivery[];
  try {
    claimed = ids.length ? await claim(env, ids, Date.now(), leaseMs(config, ids.length)) : [];
  } catch (err) {
    console.error("claim failed, messages retried:", err instanceof Error ? err.message : err);
    batch.retryAll({ delaySeconds: CLAIM_RETRY_SECONDS });
    return;
  }
  const results = await attemptDeliveries(env, config, claimed);
  // The counter first, so that once a delivery reads as settled, its subscription's
  // consecutive_failures (and any deactivation) already count its attempt.
  await reportHealth(env, claimed, results);
  try {
    await settle(env, results, Date.now());
  } catch (err) {
    // The lease runs out and the sweep sends these again: at least once, never lost.
    console.error("recording attempts failed:", err instanceof Error ? err.message : err);
  }

  const retryDelay = new Map<string, number>();
  for (const r of results) {
    if (r.verdict.kind === "retry" && r.verdict.delaySeconds <= MAX_QUEUE_DELAY_SECONDS) {
      retryDelay.set(r.attempt.deliveryId, r.verdict.delaySeconds);
    }
  }
  const retried = new Set<string>();
  for (const message of batch.messages) {
    const delay = retryDelay.get(message.body?.id);
    // One retry per delivery, even when the queue handed the same message twice.
    if (delay !== undefined && !retried.has(message.body.id)) {
      retried.add(message.body.id);
      message.retry({ delaySeconds: delay });
      count("queue", "retries");
    } else {
      message.ack();
      count("queue", "acks");
    }
  }
}
