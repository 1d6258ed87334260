/** Queue messages carry a delivery id and nothing else: no secrets, no payloads. */
export interface DeliveryMessage {
  id: string;
}

const SEND_BATCH_MAX = 100;

/**
 * Enqueues deliveries already recorded as pending in D1. A failure here loses
 * nothing: the sweep re-enqueues every due delivery that has no message.
 */
export async function enqueueDeliveries(env: Env, ids: string[], delaySeconds?: number): Promise<void> {
  const chunks: string[][] = [];
  for (let i = 0; i < ids.length; i += SEND_BATCH_MAX) chunks.push(ids.slice(i, i + SEND_BATCH_MAX));
  try {
    await Promise.all(
      chunks.map((chunk) =>
        env.DELIVERY_QUEUE.sendBatch(chunk.map((id) => ({ body: { id } satisfies DeliveryMessage, delaySeconds }))),
      ),
    );
  } catch (err) {
    console.error("enqueue failed; the sweep will pick these deliveries up:", err instanceof Error ? err.message : err);
  }
}
