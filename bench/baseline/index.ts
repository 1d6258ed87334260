/**
 * The benchmark's baseline: the path Hookline takes, without Hookline's work (no D1, no signing,
 * no Durable Object). POST /emit {url, body} enqueues one message; /fanout {urls, bodies} enqueues
 * every body for every url, ten jobs to a message (as Hookline's emit packs delivery ids) and
 * sendBatch calls of 25 messages at once (../shared.ts); the consumer only POSTs each job to its
 * url (six at a time, the Workers connection limit).
 * POST /forward {url, body} POSTs at once: the client-driven figure.
 */
import { enqueueJobs, post, sixAtATime } from "../shared";

interface Job {
  url: string;
  body: string;
}

interface Env {
  QUEUE: Queue<Job | Job[]>;
}

async function fanout(env: Env, urls: string[], bodies: string[]): Promise<void> {
  await enqueueJobs(env.QUEUE, bodies.flatMap((body) => urls.map((url) => ({ url, body }))));
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/health") return Response.json({ ok: true });
    const input = (await request.json()) as Job & { urls: string[]; bodies: string[] };
    if (path === "/emit") await env.QUEUE.send({ url: input.url, body: input.body });
    else if (path === "/fanout") await fanout(env, input.urls, input.bodies);
    else if (path === "/forward") await post(input.url, input.body);
    else return new Response("not found", { status: 404 });
    return new Response(null, { status: 202 });
  },

  async queue(batch: MessageBatch<Job | Job[]>): Promise<void> {
    const jobs = batch.messages.flatMap((m) => (Array.isArray(m.body) ? m.body : [m.body]));
    await sixAtATime(jobs, (job) => post(job.url, job.body).catch(() => {}));
    batch.ackAll();
  },
};
