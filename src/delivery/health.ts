/**
 * One Durable Object per subscription serializes its consecutive-failure counter
 * and switches the subscription off, exactly once, at DEACTIVATE_AFTER failures or
 * when the receiver answers 410 Gone. Called only on a failed attempt and on the first
 * success after one, and, for a throttled subscription, once per batch for permits. It tells the
 * operator too (services/operational): `subscription.failing` once per run of failures,
 * at half of DEACTIVATE_AFTER, and `subscription.disabled` when it switches the subscription
 * off, in the D1 batch that records the count. Operational webhooks are counted, never
 * switched off and never the subject of an event.
 *
 * Its writes land on the shard the subscription's account lives on (src/db/shards.ts): the
 * reporting consumer's, as a rule. Each carries a guard that refuses it while the account is not
 * live there: moved away (it goes to the new shard), or frozen by a move (delivery/account-move).
 * Then the object keeps the write it owes (the count, a switch-off, their operational events)
 * and its alarm makes it once the move has switched, on the new shard: a count or a switch-off
 * reported just after the move copied the subscription is not left behind on the old shard, to
 * be erased with it, and the report itself answers at once (the consumer awaits it, and the
 * move's drain awaits the consumer).
 */
import { DurableObject } from "cloudflare:workers";
import { eq, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import { loadConfig } from "../config";
import { type AttemptSummary, failingThreshold, isOperationalWebhookId } from "../core/operational";
import { database, refusedByGuard, sqlAll } from "../db/client";
import { allShards, livesHereSql, livesOn, type ShardEnv, shardEnv, shardOf } from "../db/shards";
import { subscriptions } from "../db/schema";
import { allot, type Allotment, newThrottleState, type ThrottleState } from "../core/throttle";
import { instrument } from "../metrics";
import { batchWithEvents, type OperationalEvent, subscriptionDisabled, subscriptionFailing } from "../services/operational";
import { skipPendingOfSubscription } from "./lifecycle";

const RECENT_ATTEMPTS = 500;
/** How often a write held back by a move is tried again (a move holds an account a few seconds). */
const OWED_RETRY_MS = 500;
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
  /** A D1 write a move held back, made by the alarm. */
  owed: Owed | null;
}

interface SwitchOff {
  reason: string;
  consecutiveFailures: number;
  failingSince: number | null;
  last?: AttemptSummary;
  told: boolean;
  also?: OperationalEvent[];
  now: number;
}

/** The D1 write the counter owes its subscription: the count, maybe a switch-off, and their operational events. */
interface Owed {
  subscriptionId: string;
  /** Where to try first: the reporting consumer's shard. */
  shard: number;
  count: number;
  off: Omit<SwitchOff, "consecutiveFailures" | "also"> | null;
  events: OperationalEvent[];
  now: number;
}

/** Two owed writes as one: the latest count, the first switch-off, every event in order. */
const together = (a: Owed, b: Owed): Owed => ({ ...b, off: a.off ?? b.off, events: [...a.events, ...b.events] });

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
    const stored = await this.ctx.storage.get(["count", "deactivated", "recent", "failingSent", "since", "owed"]);
    return {
      count: (stored.get("count") as number | undefined) ?? 0,
      deactivated: (stored.get("deactivated") as boolean | undefined) ?? false,
      recent: (stored.get("recent") as string[] | undefined) ?? [],
      failingSent: (stored.get("failingSent") as boolean | undefined) ?? false,
      since: (stored.get("since") as number | undefined) ?? null,
      owed: (stored.get("owed") as Owed | undefined) ?? null,
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
      const base = instrument(this.env, "durableObject");
      const now = Date.now();
      // Listen subscriptions are never the subject of operational events.
      const told = !attempt?.listen;
      const events: OperationalEvent[] = [];
      if (failing && told) {
        const figures = { consecutiveFailures: count, deactivateAfter: threshold, failingSince: since, last: attempt };
        events.push(subscriptionFailing(subscriptionId, figures));
      }
      // D1 first: if it fails, nothing is recorded here and the caller's retry counts it again.
      let owed = s.owed;
      if (count !== s.count && operational) {
        // An operational webhook has a copy on every shard (its attempts may come from any): all show the count.
        const counted = (shard: Env) =>
          database(shard.DB).update(subscriptions).set({ consecutiveFailures: count }).where(eq(subscriptions.id, subscriptionId));
        await Promise.all(allShards(base).map(counted));
      } else if (deactivate || count !== s.count) {
        const off = deactivate ? { reason, failingSince: since, last: attempt, told, now } : null;
        const write: Owed = { subscriptionId, shard, count, off, events, now };
        owed = owed ? together(owed, write) : write;
        if (await this.pay(base, owed)) owed = null;
        else await this.ctx.storage.setAlarm(Date.now() + OWED_RETRY_MS);
      }
      const recent = [...s.recent.slice(-(RECENT_ATTEMPTS - 1)), attemptId];
      const deactivated = s.deactivated || deactivate;
      await this.ctx.storage.put({ count, deactivated, recent, failingSent: success ? false : s.failingSent || failing, since });
      if (owed) await this.ctx.storage.put("owed", owed);
      else await this.ctx.storage.delete("owed");
      return { count, deactivated };
    });
  }

  /** Makes an owed write where the subscription lives; false while a move holds its account. */
  private async pay(env: Env, owed: Owed): Promise<boolean> {
    const { subscriptionId, count, off, events, now } = owed;
    return onItsShard(env, subscriptionId, owed.shard, (on) => {
      if (off) return this.switchOff(on, subscriptionId, { ...off, consecutiveFailures: count, also: events });
      const counted = database(on.DB).update(subscriptions).set({ consecutiveFailures: count }).where(eq(subscriptions.id, subscriptionId));
      return batchWithEvents(on, [liveHere(on, subscriptionId), counted], events, now);
    });
  }

  /** Tries an owed write again until the move that held it back has switched. */
  async alarm(): Promise<void> {
    await this.serialized(async () => {
      const owed = await this.ctx.storage.get<Owed>("owed");
      if (!owed) return;
      if (await this.pay(instrument(this.env, "durableObject"), owed)) await this.ctx.storage.delete("owed");
      else await this.ctx.storage.setAlarm(Date.now() + OWED_RETRY_MS);
    });
  }

  /**
   * Switches the subscription off (active false, the reason, its pending deliveries skipped)
   * and sends `subscription.disabled`, with `also` (other events of the same report), in one
   * D1 batch. Every automatic switch-off goes through here, whatever its reason.
   */
  private async switchOff(env: Env, subscriptionId: string, off: SwitchOff): Promise<void> {
    const db = database(env.DB);
    const statements: BatchItem<"sqlite">[] = [
      liveHere(env, subscriptionId),
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
    // A write still owed from before (a move held it back) is dropped: the count starts again.
    return this.serialized(async () => {
      await this.ctx.storage.delete("owed");
      await this.ctx.storage.put({ count: 0, deactivated: false, failingSent: false, since: null });
    });
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

/** The guard of a write: aborts its batch unless the subscription's account lives on `env`'s shard, not frozen. */
const liveHere = (env: Env, subscriptionId: string) =>
  sqlAll(env.DB, sql`
    SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM subscriptions s JOIN accounts a ON a.id = s.account_id
      WHERE s.id = ${subscriptionId} AND ${livesHereSql(env, "a")}) THEN json('not live here') END`);

/**
 * Runs `write` (whose batch starts with `liveHere`) on `shard`; true once written. Refused there,
 * it finds where the subscription lives now: on another shard, it writes there; nowhere (deleted),
 * true with nothing written, as an UPDATE of a deleted row writes nothing; while a move holds its
 * account (the row is on a shard but live on none), false: nothing written.
 */
async function onItsShard(env: Env, subscriptionId: string, shard: number, write: (env: Env) => Promise<unknown>): Promise<boolean> {
  let on: ShardEnv = shardEnv(env, shard);
  for (let tries = 0; tries < 3; tries++) {
    try {
      await write(on);
      return true;
    } catch (err) {
      if (!refusedByGuard(err)) throw err;
    }
    const found = await Promise.all(
      allShards(env).map(async (s) => {
        const [row] = await sqlAll<{ shard: number; moving_to: number | null }>(s.DB, sql`
          SELECT a.shard, a.moving_to FROM subscriptions s JOIN accounts a ON a.id = s.account_id WHERE s.id = ${subscriptionId}`);
        return row && { s, live: livesOn({ shard: row.shard, movingTo: row.moving_to }, shardOf(s)) };
      }),
    );
    const home = found.find((f) => f?.live);
    if (!home) return !found.some(Boolean);
    on = home.s;
  }
  return false;
}

export const healthOf = (env: Env, subscriptionId: string) =>
  env.SUBSCRIPTION_HEALTH.get(env.SUBSCRIPTION_HEALTH.idFromName(subscriptionId));
