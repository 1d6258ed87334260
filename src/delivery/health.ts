/**
 * One Durable Object per subscription serializes its consecutive-failure counter
 * and switches the subscription off, exactly once, at DEACTIVATE_AFTER failures or
 * when the receiver answers 410 Gone. Called only on a failed attempt and on the first
 * success after one, and, for a throttled subscription, once per batch for permits.
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { loadConfig } from "../config";
import { database } from "../db/client";
import { subscriptions } from "../db/schema";
import { allot, type Allotment, newThrottleState, type ThrottleState } from "../core/throttle";
import { instrument } from "../metrics";
import { skipPendingOfSubscription } from "./lifecycle";

const RECENT_ATTEMPTS = 500;
const THROTTLE_KEY = "throttle_next";
export const GONE_REASON = "the receiver answered 410 Gone: the endpoint is gone for good";

export interface HealthState {
  count: number;
  deactivated: boolean;
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

  private async state(): Promise<HealthState & { recent: string[] }> {
    const [count, deactivated, recent] = await Promise.all([
      this.ctx.storage.get<number>("count"),
      this.ctx.storage.get<boolean>("deactivated"),
      this.ctx.storage.get<string[]>("recent"),
    ]);
    return { count: count ?? 0, deactivated: deactivated ?? false, recent: recent ?? [] };
  }

  /** Counts one attempt; idempotent by attempt id. */
  report(subscriptionId: string, attemptId: string, success: boolean): Promise<HealthState> {
    return this.countAttempt(subscriptionId, attemptId, success, (count, threshold) =>
      !success && threshold > 0 && count >= threshold ? `deactivated after ${count} consecutive failed attempts` : null,
    );
  }

  /** The receiver answered 410 Gone: counts the failed attempt and switches the subscription off at once. */
  gone(subscriptionId: string, attemptId: string): Promise<HealthState> {
    return this.countAttempt(subscriptionId, attemptId, false, () => GONE_REASON);
  }

  /** Counts one attempt (idempotent by attempt id) and switches the subscription off, once, when `offBecause` gives a reason. */
  private countAttempt(
    subscriptionId: string,
    attemptId: string,
    success: boolean,
    offBecause: (count: number, threshold: number) => string | null,
  ): Promise<HealthState> {
    return this.serialized(async () => {
      const s = await this.state();
      if (s.recent.includes(attemptId)) return { count: s.count, deactivated: s.deactivated };
      const count = success ? 0 : s.count + 1;
      const reason = s.deactivated ? null : offBecause(count, loadConfig(this.env).deactivateAfter);
      // D1 first: if it fails, nothing is recorded here and the caller's retry counts it again.
      if (reason !== null) await this.deactivate(subscriptionId, count, reason);
      else if (count !== s.count) {
        const db = database(instrument(this.env, "durableObject").DB);
        await db.update(subscriptions).set({ consecutiveFailures: count }).where(eq(subscriptions.id, subscriptionId));
      }
      const deactivated = s.deactivated || reason !== null;
      const recent = [...s.recent.slice(-(RECENT_ATTEMPTS - 1)), attemptId];
      await this.ctx.storage.put({ count, deactivated, recent });
      return { count, deactivated };
    });
  }

  /** Switches the subscription off with its reason; what it still had to send becomes skipped. */
  private async deactivate(subscriptionId: string, count: number, reason: string): Promise<void> {
    const env = instrument(this.env, "durableObject");
    const db = database(env.DB);
    const now = Date.now();
    await db.batch([
      db
        .update(subscriptions)
        .set({ active: false, consecutiveFailures: count, disabledAt: now, disabledReason: reason })
        .where(eq(subscriptions.id, subscriptionId)),
      skipPendingOfSubscription(env, subscriptionId, now),
    ]);
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
    return this.serialized(() => this.ctx.storage.put({ count: 0, deactivated: false }));
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
    this.limiter = undefined;
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
