/**
 * POST /emit {url, body} and /emit-batch [{url, body}] enqueue; the consumer only POSTs
 * each message to its url (six at a time, the Workers connection limit). POST /forward
 * {url, body} POSTs at once: the client-driven figure.
 */
interface Job {
  url: string;
  body: string;
}

interface Env {
  QUEUE: Queue<Job>;
}

const post = (job: Job) =>
  fetch(job.url, { method: "POST", headers: { "content-type": "application/json" }, body: job.body }).then((r) => r.arrayBuffer());

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    if (path === "/health") return Response.json({ ok: true });
    const input = (await request.json()) as Job | Job[];
    if (path === "/emit") await env.QUEUE.send(input as Job);
    else if (path === "/emit-batch") await env.QUEUE.sendBatch((input as Job[]).map((body) => ({ body })));
    else if (path === "/forward") await post(input as Job);
    else return new Response("not found", { status: 404 });
    return new Response(null, { status: 202 });
  },

  async queue(batch: MessageBatch<Job>): Promise<void> {
    let next = 0;
    const lanes = Array.from({ length: Math.min(6, batch.messages.length) }, async () => {
      while (next < batch.messages.length) {
        const message = batch.messages[next++];
        await post(message.body).catch(() => {});
        message.ack();
      }
    });
    await Promise.all(lanes);
  },
};
