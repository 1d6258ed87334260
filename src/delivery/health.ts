/**
 * One Durable Object per subscription serializes its consecutive-failure counter
 * and switches the subscription off, exactly once, at DEACTIVATE_AFTER failures or
 * when the receiver answers 410 Gone. Called only on a failed attempt and on the first
 * success after one, and, for a throttled subscription, once per batch for permits. It tells the
 * operator too (services/operational): `subscription.failing` once per run of failures,
 * at half of DEACTIVATE_AFTER, and `subscription.disabled` when it switches the subscription
 * off, in the D1 batch that records the count. Operational webhooks are counted, never
 * switched off and never the subject of an event.
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { loadConfig } from "../config";
import { type AttemptSummary, failingThreshold, isOperationalWebhookId } from "../core/operational";
import { database } from "../db/client";
import { allShards, shardEnv } from "../db/shards";
import { subscriptions } from "../db/schema";
import { allot, type Allotment, newThrottleState, type ThrottleState } from "../core/throttle";
import { instrument } from "../metrics";
import { batchWithEvents, type OperationalEvent, subscriptionDisabled, subscriptionFailing } from "../services/operational";
import { skipPendingOfSubscription } from "./lifecycle";

const RECENT_ATTEMPTS = 500;
const THROTTLE_KEY = "throttle_next";
export const GONE_REASON = "the receiver answered 410 Gone: the endpoint is gone for good";

export interface HealthState {
  count: number;
  deactivated: boolean;
}

interface StoredState extends HealthState {
  recent: string[];
  /** `subscription.failing` was sent for the current run of failures. */
  failingSent: boolean;
  /** When the current run of failures began (its first failed attempt). */
  since: number | null;
}

export class SubscriptionHealth extends DurableObject<Env> {
  private queue: Promise<unknown> = Promise.resolve();
  private limiter: Promise<ThrottleState> | undefined;

  /** Runs one operation at a time: D1 calls are I/O, which would let other calls interleave. */
  private serialized<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => {});
    return next;
  }

  private async state(): Promise<StoredState> {
    const stored = await this.ctx.storage.get(["count", "deactivated", "recent", "failingSent", "since"]);
    return {
      count: (stored.get("count") as number | undefined) ?? 0,
      deactivated: (stored.get("deactivated") as boolean | undefined) ?? false,
      recent: (stored.get("recent") as string[] | undefined) ?? [],
      failingSent: (stored.get("failingSent") as boolean | undefined) ?? false,
      since: (stored.get("since") as number | undefined) ?? null,
    };
  }

  /**
   * Counts one attempt; idempotent by attempt id. `attempt` (a failure's status and error)
   * goes into the operational events this report may send.
   */
  report(subscriptionId: string, attemptId: string, success: boolean, attempt?: AttemptSummary, shard = 0): Promise<HealthState> {
    return this.countAttempt(subscriptionId, shard, attemptId, success, attempt, (count, threshold) =>
      !success && threshold > 0 && count >= threshold ? `deactivated after ${count} consecutive failed attempts` : null,
    );
  }

  /** The receiver answered 410 Gone: counts the failed attempt and switches the subscription off at once. */
  gone(subscriptionId: string, attemptId: string, attempt?: AttemptSummary, shard = 0): Promise<HealthState> {
    return this.countAttempt(subscriptionId, shard, attemptId, false, attempt, () => GONE_REASON);
  }

  /**
   * Counts one attempt (idempotent by attempt id) and switches the subscription off, once, when
   * `offBecause` gives a reason; never an operational webhook.
   */
  private countAttempt(
    subscriptionId: string,
    /** The data shard the subscription lives on (src/db/shards.ts). */
    shard: number,
    attemptId: string,
    success: boolean,
    attempt: AttemptSummary | undefined,
    offBecause: (count: number, threshold: number) => string | null,
  ): Promise<HealthState> {
    return this.serialized(async () => {
      const s = await this.state();
      if (s.recent.includes(attemptId)) return { count: s.count, deactivated: s.deactivated };
      const count = success ? 0 : s.count + 1;
      const since = success ? null : (s.since ?? attempt?.startedAt ?? Date.now());
      const threshold = loadConfig(this.env).deactivateAfter;
      const operational = isOperationalWebhookId(subscriptionId);
      const reason = s.deactivated || operational ? null : offBecause(count, threshold);
      const deactivate = reason !== null;
      const failingAt = failingThreshold(threshold);
      const failing = !success && !s.failingSent && failingAt !== null && count >= failingAt;
      const env = shardEnv(instrument(this.env, "durableObject"), shard);
      const now = Date.now();
      // Listen subscriptions are never the subject of operational events.
      const told = !attempt?.listen;
      const events: OperationalEvent[] = [];
      if (failing && told) {
        const figures = { consecutiveFailures: count, deactivateAfter: threshold, failingSince: since, last: attempt };
        events.push(subscriptionFailing(subscriptionId, figures));
      }
      // D1 first: if it fails, nothing is recorded here and the caller's retry counts it again.
      if (deactivate) {
        await this.switchOff(env, subscriptionId, {
          reason,
          consecutiveFailures: count,
          failingSince: since,
          last: attempt,
          told,
          also: events,
          now,
        });
      } else if (count !== s.count && operational) {
        // An operational webhook has a copy on every shard (its attempts may come from any): all show the count.
        const counted = (shard: Env) =>
          database(shard.DB).update(subscriptions).set({ consecutiveFailures: count }).where(eq(subscriptions.id, subscriptionId));
        await Promise.all(allShards(env).map(counted));
      } else if (count !== s.count) {
        const counted = database(env.DB).update(subscriptions).set({ consecutiveFailures: count }).where(eq(subscriptions.id, subscriptionId));
        await batchWithEvents(env, [counted], events, now);
      }
      const recent = [...s.recent.slice(-(RECENT_ATTEMPTS - 1)), attemptId];
      const deactivated = s.deactivated || deactivate;
      await this.ctx.storage.put({ count, deactivated, recent, failingSent: success ? false : s.failingSent || failing, since });
      return { count, deactivated };
    });
  }

  /**
   * Switches the subscription off (active false, the reason, its pending deliveries skipped)
   * and sends `subscription.disabled`, with `also` (other events of the same report), in one
   * D1 batch. Every automatic switch-off goes through here, whatever its reason.
   */
  private async switchOff(
    env: Env,
    subscriptionId: string,
    off: {
      reason: string;
      consecutiveFailures: number;
      failingSince: number | null;
      last?: AttemptSummary;
      told: boolean;
      also?: OperationalEvent[];
      now: number;
    },
  ): Promise<void> {
    const db = database(env.DB);
    const statements: BatchItem<"sqlite">[] = [
      db
        .update(subscriptions)
        .set({ active: false, consecutiveFailures: off.consecutiveFailures, disabledAt: off.now, disabledReason: off.reason })
        .where(eq(subscriptions.id, subscriptionId)),
      skipPendingOfSubscription(env, subscriptionId, off.now),
    ];
    const { reason, consecutiveFailures, failingSince, last } = off;
    const disabled = subscriptionDisabled(subscriptionId, { trigger: "automatic", reason, consecutiveFailures, failingSince, last }, off.now);
    await batchWithEvents(env, statements, [...(off.also ?? []), ...(off.told ? [disabled] : [])], off.now);
  }

  /**
   * Permits for a throttled subscription's deliveries (core/throttle). Not serialized with the
   * counter: the state changes in one synchronous step, and the counter's D1 calls must not
   * hold it up. Only the last permit's time is stored: after a restart no permit comes sooner
   * than the rate allows, and deliveries whose place in line was lost queue again.
   */
  async throttle(rate: number, deliveryIds: string[]): Promise<Allotment> {
    this.limiter ??= this.ctx.storage.get<number>(THROTTLE_KEY).then((next) => newThrottleState(next ?? 0));
    const state = await this.limiter;
    const allotment = allot(state, rate, deliveryIds, Date.now());
    if (allotment.permits.length) {
      const last = Math.max(...allotment.permits.map((p) => p.at));
      await this.ctx.storage.put(THROTTLE_KEY, last + 1000 / rate);
    }
    return allotment;
  }

  /** Re-activation: the counter starts again from zero, and the throttle's line (its deliveries were skipped) is dropped. */
  reset(): Promise<void> {
    void this.newLine();
    return this.serialized(() => this.ctx.storage.put({ count: 0, deactivated: false, failingSent: false, since: null }));
  }

  /**
   * The throttle's line starts afresh (its rate changed, or its deliveries were skipped): places
   * are dropped, the last permit's time is kept. Deliveries that held a place queue again.
   */
  async newLine(): Promise<void> {
    const state = await this.limiter;
    state?.reserved.clear();
    if (state) state.lineEnd = 0;
  }

  /** The subscription was deleted: nothing of it stays here. */
  destroy(): Promise<void> {
    return this.serialized(() => this.ctx.storage.deleteAll());
  }

  read(): Promise<HealthState> {
    return this.serialized(async () => {
      const { count, deactivated } = await this.state();
      return { count, deactivated };
    });
  }
}

export const healthOf = (env: Env, subscriptionId: string) =>
  env.SUBSCRIPTION_HEALTH.get(env.SUBSCRIPTION_HEALTH.idFromName(subscriptionId));
