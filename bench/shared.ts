/**
 * What the bench's two reference Workers (baseline/ and floor/) share, so that the floor differs
 * from the baseline only by its D1 work: how a fan-out's jobs go on the queue, and how a consumer
 * POSTs them.
 */
const SEND_BATCH_MAX = 25;
const JOBS_PER_MESSAGE = 10;
/** The Workers limit on simultaneous outgoing connections. */
const CONNECTIONS = 6;

/** POSTs a body to a url and reads the answer whole, as a bare forwarder would; its status. */
export const post = (url: string, body: string): Promise<number> =>
  fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body }).then(async (r) => {
    await r.arrayBuffer();
    return r.status;
  });

const chunks = <T>(items: T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

/**
 * Ten jobs to a message (as Hookline's emit packs delivery ids) and sendBatch calls of 25 messages
 * at once (a sendBatch carries at most 256 KB: ten bodies of the bench's size are about 4 KB).
 */
export async function enqueueJobs<J>(queue: Queue<J[]>, jobs: J[]): Promise<void> {
  const messages = chunks(jobs, JOBS_PER_MESSAGE).map((body) => ({ body }));
  await Promise.all(chunks(messages, SEND_BATCH_MAX).map((batch) => queue.sendBatch(batch)));
}

/** Runs `work` over `items`, six at a time. */
export async function sixAtATime<T>(items: T[], work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONNECTIONS, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}
