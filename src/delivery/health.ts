/**
 * One Durable Object per subscription serializes its consecutive-failure counter
 * and switches the subscription off, exactly once, at DEACTIVATE_AFTER failures.
 * Called only on a failed attempt and on the first success after one. It tells the
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
import { subscriptions } from "../db/schema";
import { instrument } from "../metrics";
import { batchWithEvents, type OperationalEvent, subscriptionDisabled, subscriptionFailing } from "../services/operational";
import { skipPendingOfSubscription } from "./lifecycle";

const RECENT_ATTEMPTS = 500;

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
  report(subscriptionId: string, attemptId: string, success: boolean, attempt?: AttemptSummary): Promise<HealthState> {
    return this.serialized(async () => {
      const s = await this.state();
      if (s.recent.includes(attemptId)) return { count: s.count, deactivated: s.deactivated };
      const count = success ? 0 : s.count + 1;
      const since = success ? null : (s.since ?? attempt?.startedAt ?? Date.now());
      const threshold = loadConfig(this.env).deactivateAfter;
      const operational = isOperationalWebhookId(subscriptionId);
      const deactivate = !success && !s.deactivated && !operational && threshold > 0 && count >= threshold;
      const failingAt = failingThreshold(threshold);
      const failing = !success && !s.failingSent && failingAt !== null && count >= failingAt;
      const env = instrument(this.env, "durableObject");
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
          reason: `deactivated after ${count} consecutive failed attempts`,
          consecutiveFailures: count,
          failingSince: since,
          last: attempt,
          told,
          also: events,
          now,
        });
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

  /** Re-activation: the counter starts again from zero. */
  reset(): Promise<void> {
    return this.serialized(() => this.ctx.storage.put({ count: 0, deactivated: false, failingSent: false, since: null }));
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
