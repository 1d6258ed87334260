/**
 * The benchmark's floor: the baseline (bench/baseline) plus the least D1 work that any design
 * recording each delivery in D1 must do, and nothing else. It answers what the local runtime
 * allows a webhook service at all, so that Hookline's figures can be read against it:
 *
 * - POST /emit {url, body}: one D1 batch (insert the event, insert its delivery) before answering
 *   202, then one queue message. POST /fanout {urls, bodies}: one D1 batch for all the call's events
 *   and deliveries, then messages of ten jobs, sendBatch calls of 25, as the baseline (../shared.ts).
 * - The consumer claims its batch with one UPDATE ... RETURNING, POSTs each claimed job (six at a
 *   time, the Workers connection limit) and records every outcome with one more UPDATE.
 *
 * It is kinder to itself than Hookline may be: the message carries the url and the body (Hookline's
 * carry ids only, never a target's url), no signing, no auth or validation, no log of the answers,
 * no index beyond the primary keys, no Durable Object, and in the bench each run starts on an empty
 * database. Emit calls are written one by one; grouping concurrent calls into one batch, as
 * Hookline does, measured no faster here.
 */
import { enqueueJobs, post, sixAtATime } from "../shared";

interface Job {
  id: string;
  url: string;
  body: string;
}

interface Env {
  QUEUE: Queue<Job[]>;
  DB: D1Database;
}

const LEASE_MS = 30_000;

// Created once per isolate; a failed attempt is tried again by the next request.
let tables: Promise<unknown> | null = null;
function ready(env: Env): Promise<unknown> {
  tables ??= env.DB.exec(
    "CREATE TABLE IF NOT EXISTS events (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID; " +
      "CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, event_id TEXT NOT NULL, url TEXT NOT NULL, status TEXT NOT NULL, " +
      "lease_until INTEGER, status_code INTEGER, ended_at INTEGER) WITHOUT ROWID",
  ).catch((err) => {
    tables = null;
    throw err;
  });
  return tables;
}

/** Records the events and their deliveries, pending, in one D1 round trip. */
async function record(env: Env, events: { id: string; body: string }[], jobs: (Job & { eventId: string })[]): Promise<void> {
  await env.DB.batch([
    env.DB.prepare("INSERT INTO events (id, body) SELECT value->>'id', value->>'body' FROM json_each(?)").bind(JSON.stringify(events)),
    env.DB.prepare("INSERT INTO deliveries (id, event_id, url, status) SELECT value->>'id', value->>'eventId', value->>'url', 'pending' FROM json_each(?)").bind(
      JSON.stringify(jobs.map(({ id, eventId, url }) => ({ id, eventId, url }))),
    ),
  ]);
}

async function fanout(env: Env, urls: string[], bodies: string[]): Promise<void> {
  const events = bodies.map((body) => ({ id: crypto.randomUUID(), body }));
  const jobs = events.flatMap((e) => urls.map((url) => ({ id: crypto.randomUUID(), eventId: e.id, url, body: e.body })));
  await record(env, events, jobs);
  await enqueueJobs(env.QUEUE, jobs.map(({ id, url, body }) => ({ id, url, body })));
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    await ready(env);
    const path = new URL(request.url).pathname;
    if (path === "/health") return Response.json({ ok: true });
    const input = (await request.json()) as { url: string; body: string; urls: string[]; bodies: string[] };
    if (path === "/emit") {
      const event = { id: crypto.randomUUID(), body: input.body };
      const job = { id: crypto.randomUUID(), eventId: event.id, url: input.url, body: input.body };
      await record(env, [event], [job]);
      await env.QUEUE.send([{ id: job.id, url: job.url, body: job.body }]);
    } else if (path === "/fanout") await fanout(env, input.urls, input.bodies);
    else return new Response("not found", { status: 404 });
    return new Response(null, { status: 202 });
  },

  async queue(batch: MessageBatch<Job[]>, env: Env): Promise<void> {
    await ready(env);
    const all = batch.messages.flatMap((m) => m.body);
    const claimed = await env.DB.prepare(
      "UPDATE deliveries SET status = 'in_flight', lease_until = ? WHERE id IN (SELECT value FROM json_each(?)) AND status = 'pending' RETURNING id",
    )
      .bind(Date.now() + LEASE_MS, JSON.stringify(all.map((j) => j.id)))
      .all<{ id: string }>();
    const mine = new Set(claimed.results.map((r) => r.id));
    const jobs = all.filter((j) => mine.has(j.id));
    const outcomes: { id: string; status: number; at: number }[] = [];
    await sixAtATime(jobs, async (job) => outcomes.push({ id: job.id, status: await post(job.url, job.body).catch(() => 0), at: Date.now() }));
    await env.DB.prepare(
      "UPDATE deliveries SET status = 'delivered', status_code = o.value->>'status', ended_at = o.value->>'at' FROM json_each(?) AS o WHERE deliveries.id = o.value->>'id'",
    )
      .bind(JSON.stringify(outcomes))
      .run();
    batch.ackAll();
  },
};
