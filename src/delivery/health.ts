/**
 * One Durable Object per subscription serializes its consecutive-failure counter
 * and switches the subscription off, exactly once, at DEACTIVATE_AFTER failures.
 * Called only on a failed attempt and on the first success after one.
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { loadConfig } from "../config";
import { database } from "../db/client";
import { subscriptions } from "../db/schema";
import { instrument } from "../metrics";
import { skipPendingOfSubscription } from "./lifecycle";

const RECENT_ATTEMPTS = 500;

export interface HealthState {
  count: number;
  deactivated: boolean;
}

export class SubscriptionHealth extends DurableObject<Env> {
  private queue: Promise<unknown> = Promise.resolve();

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
    return this.serialized(async () => {
      const s = await this.state();
      if (s.recent.includes(attemptId)) return { count: s.count, deactivated: s.deactivated };
      const count = success ? 0 : s.count + 1;
      const threshold = loadConfig(this.env).deactivateAfter;
      const deactivate = !success && !s.deactivated && threshold > 0 && count >= threshold;
      const env = instrument(this.env, "durableObject");
      const db = database(env.DB);
      const now = Date.now();
      // D1 first: if it fails, nothing is recorded here and the caller's retry counts it again.
      if (deactivate) {
        await db.batch([
          db
            .update(subscriptions)
            .set({
              active: false,
              consecutiveFailures: count,
              disabledAt: now,
              disabledReason: `deactivated after ${count} consecutive failed attempts`,
            })
            .where(eq(subscriptions.id, subscriptionId)),
          skipPendingOfSubscription(env, subscriptionId, now),
        ]);
      } else if (count !== s.count) {
        await db.update(subscriptions).set({ consecutiveFailures: count }).where(eq(subscriptions.id, subscriptionId));
      }
      const recent = [...s.recent.slice(-(RECENT_ATTEMPTS - 1)), attemptId];
      await this.ctx.storage.put({ count, deactivated: s.deactivated || deactivate, recent });
      return { count, deactivated: s.deactivated || deactivate };
    });
  }

  /** Re-activation: the counter starts again from zero. */
  reset(): Promise<void> {
    return this.serialized(() => this.ctx.storage.put({ count: 0, deactivated: false }));
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
