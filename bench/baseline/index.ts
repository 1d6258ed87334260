/**
 * The benchmark's baseline: the path Hookline takes, without Hookline's work (no D1, no signing,
 * no Durable Object). POST /emit {url, body} enqueues one message; /fanout {urls, bodies} enqueues
 * every body for every url, ten jobs to a message (as Hookline's emit packs delivery ids) and
 * sendBatch calls of 25 messages at once (a sendBatch carries at most 256 KB: ten bodies of the
 * bench's size are about 4 KB); the consumer only POSTs each job to its url (six at a time,
 * the Workers connection limit).
 * POST /forward {url, body} POSTs at once: the client-driven figure.
 */
interface Job {
  url: string;
  body: string;
}

interface Env {
  QUEUE: Queue<Job | Job[]>;
}

const SEND_BATCH_MAX = 25;
const JOBS_PER_MESSAGE = 10;

const post = (job: Job) =>
  fetch(job.url, { method: "POST", headers: { "content-type": "application/json" }, body: job.body }).then((r) => r.arrayBuffer());

async function fanout(env: Env, urls: string[], bodies: string[]): Promise<void> {
  const jobs = bodies.flatMap((body) => urls.map((url) => ({ url, body })));
  const messages: { body: Job[] }[] = [];
  for (let i = 0; i < jobs.length; i += JOBS_PER_MESSAGE) messages.push({ body: jobs.slice(i, i + JOBS_PER_MESSAGE) });
  const chunks: (typeof messages)[] = [];
  for (let i = 0; i < messages.length; i += SEND_BATCH_MAX) chunks.push(messages.slice(i, i + SEND_BATCH_MAX));
  await Promise.all(chunks.map((chunk) => env.QUEUE.sendBatch(chunk)));
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/health") return Response.json({ ok: true });
    const input = (await request.json()) as Job & { urls: string[]; bodies: string[] };
    if (path === "/emit") await env.QUEUE.send({ url: input.url, body: input.body });
    else if (path === "/fanout") await fanout(env, input.urls, input.bodies);
    else if (path === "/forward") await post(input);
    else return new Response("not found", { status: 404 });
    return new Response(null, { status: 202 });
  },

  async queue(batch: MessageBatch<Job | Job[]>): Promise<void> {
    const jobs = batch.messages.flatMap((m) => (Array.isArray(m.body) ? m.body : [m.body]));
    let next = 0;
    const lanes = Array.from({ length: Math.min(6, jobs.length) }, async () => {
      while (next < jobs.length) await post(jobs[next++]).catch(() => {});
    });
    await Promise.all(lanes);
    batch.ackAll();
  },
};
