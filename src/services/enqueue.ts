/**
 * Queue messages carry delivery ids and nothing else: no secrets, no payloads. A message holds
 * up to IDS_PER_MESSAGE of them (`ids`), so a fan-out pays a queue write, read and delete per
 * ten deliveries, not per delivery; `id` (one delivery) is what messages enqueued before that
 * held, and the consumer still reads it.
 */
export interface DeliveryMessage {
  id?: string;
  ids?: string[];
}

/**
 * Ten: a consumer batch (max_batch_size 25) then holds at most 250 deliveries, which its six
 * connections send well within an invocation's 15 minutes even when every receiver takes the
 * whole DELIVERY_TIMEOUT_MS; fewer, fatter messages would also leave the queue fewer
 * messages to spread over concurrent consumers.
 */
export const IDS_PER_MESSAGE = 10;
const SEND_BATCH_MAX = 100;

/** The delivery ids of a message, whichever shape it has; nothing for a malformed one. */
export function idsOf(body: DeliveryMessage | undefined): string[] {
  if (Array.isArray(body?.ids)) return body.ids.filter((id): id is string => typeof id === "string");
  return typeof body?.id === "string" ? [body.id] : [];
}

/**
 * Enqueues deliveries already recorded as pending in D1. A failure here loses
 * nothing: the sweep re-enqueues every due delivery that has no message.
 */
export async function enqueueDeliveries(env: Env, ids: string[], delaySeconds?: number): Promise<void> {
  const messages: DeliveryMessage[] = [];
  for (let i = 0; i < ids.length; i += IDS_PER_MESSAGE) messages.push({ ids: ids.slice(i, i + IDS_PER_MESSAGE) });
  const sends: DeliveryMessage[][] = [];
  for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) sends.push(messages.slice(i, i + SEND_BATCH_MAX));
  try {
    await Promise.all(sends.map((chunk) => env.DELIVERY_QUEUE.sendBatch(chunk.map((body) => ({ body, delaySeconds })))));
  } catch (err) {
    console.error("enqueue failed; the sweep will pick these deliveries up:", err instanceof Error ? err.message : err);
  }
}
