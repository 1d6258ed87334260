/**
 * The consumer's side of throttling: one request to each throttled subscription's Durable
 * Object per batch (core/throttle decides there), then each permitted delivery waits for its
 * send time. Deliveries without a permit, and permits missed by more than LATE_MS, go back to
 * pending through the lifecycle's `defer` (no attempt counted) with a queue message that comes
 * back shortly before their place in line. A batch without a throttled subscription costs nothing.
 */
import { HORIZON_MS, LATE_MS } from "../core/throttle";
import { MAX_QUEUE_DELAY_SECONDS } from "../core/retry";
import { enqueueDeliveries } from "../services/enqueue";
import { healthOf } from "./health";
import { type ClaimedDelivery, defer as deferDeliveries } from "./lifecycle";

/** When the Durable Object cannot be asked, its deliveries come back this much later, unsent. */
const UNANSWERED_RETRY_MS = 5_000;

export interface ThrottleGate {
  /** The deliveries to send, in the order to take them: unthrottled first, then by send time. */
  send: ClaimedDelivery[];
  /** Waits for the delivery's send time; false when it came too late (the delivery is then deferred). */
  turn(d: ClaimedDelivery): Promise<boolean> | true;
  /** Defers what was not sent (an extra D1 round trip only when there is any). */
  finish(): Promise<void>;
}

const open: Pick<ThrottleGate, "turn" | "finish"> = { turn: () => true, finish: async () => {} };

export async function throttleGate(env: Env, claimed: ClaimedDelivery[]): Promise<ThrottleGate> {
  const bySubscription = new Map<string, ClaimedDelivery[]>();
  for (const d of claimed) {
    if (d.throttleRate !== null) bySubscription.set(d.target.id, [...(bySubscription.get(d.target.id) ?? []), d]);
  }
  if (bySubscription.size === 0) return { send: claimed, ...open };

  const sendAt = new Map<string, number>();
  const later: { id: string; until: number }[] = [];
  await Promise.all(
    [...bySubscription].map(async ([subscriptionId, list]) => {
      try {
        const { permits, waits } = await healthOf(env, subscriptionId).throttle(list[0].throttleRate!, list.map((d) => d.id));
        for (const p of permits) sendAt.set(p.id, p.at);
        later.push(...waits);
      } catch (err) {
        console.error("throttle not reached, deliveries deferred:", err instanceof Error ? err.message : err);
        const until = Date.now() + UNANSWERED_RETRY_MS;
        later.push(...list.map((d) => ({ id: d.id, until })));
      }
    }),
  );
  const deferred = later.length ? defer(env, later) : Promise.resolve();
  const late: { id: string; until: number }[] = [];
  const send = [
    ...claimed.filter((d) => d.throttleRate === null),
    ...claimed.filter((d) => sendAt.has(d.id)).sort((a, b) => sendAt.get(a.id)! - sendAt.get(b.id)!),
  ];
  return {
    send,
    turn(d) {
      const at = sendAt.get(d.id);
      if (at === undefined) return true;
      return (async () => {
        const wait = at - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        if (Date.now() <= at + LATE_MS) return true;
        late.push({ id: d.id, until: Date.now() });
        return false;
      })();
    },
    async finish() {
      await Promise.all([deferred, late.length ? defer(env, late) : undefined]);
    },
  };
}

/**
 * Back to pending, each with a message due shortly before its time: it arrives within
 * HORIZON_MS of it, and its permit is then waited for in the consumer.
 */
async function defer(env: Env, items: { id: string; until: number }[]): Promise<void> {
  const now = Date.now();
  const byDelay = new Map<number, string[]>();
  const rows: [string, number][] = [];
  for (const { id, until } of items) {
    const lead = until - now - HORIZON_MS / 2;
    const delay = Math.min(Math.max(0, Math.floor(lead / 1000)), MAX_QUEUE_DELAY_SECONDS);
    rows.push([id, now + delay * 1000]);
    byDelay.set(delay, [...(byDelay.get(delay) ?? []), id]);
  }
  try {
    await deferDeliveries(env, rows, now);
  } catch (err) {
    // Still in flight: the lease runs out and the sweep sends them again.
    console.error("deferring throttled deliveries failed:", err instanceof Error ? err.message : err);
    return;
  }
  await Promise.all([...byDelay].map(([delay, ids]) => enqueueDeliveries(env, ids, delay)));
}
