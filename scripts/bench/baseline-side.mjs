// The baseline's side of each scenario (bench/baseline): the same client, concurrency, rate,
// receiver and body size as Hookline's, through the same queue settings, with nothing else.
// `worker: "floor"` runs the same scenarios, (a) and (b), on bench/floor instead: the baseline plus
// the least D1 work a delivery log needs, what the local runtime allows any such design.
import { join } from "node:path";
import { startWorker } from "../launcher.mjs";
import { call, Errors, paced, padding, pool, summarize } from "./util.mjs";

/** `workerPerRun` false (scripts/bench/probe.mjs): every run on the Worker started here, kept up. */
export async function startBaselineSide(root, receiver, sizes, { workerPerRun = true, worker: name = "baseline" } = {}) {
  const start = () => startWorker({ config: join(root, "bench", name, "wrangler.toml"), quiet: process.env.BENCH_VERBOSE !== "1", readyPath: "/health", inspector: false });
  // Started to check that it starts at all; each run then has one of its own.
  let worker = await start();
  if (workerPerRun) await worker.stop();
  const post = (path, body) => call(worker.url + path, { method: "POST", body, deadlineMs: sizes.callDeadlineMs, expect: (s) => s === 202 });
  const body = (run, seq) => JSON.stringify({ type: "bench.tick", timestamp: new Date().toISOString(), data: { run, seq, sentAt: Date.now(), pad: padding() } });
  const job = (run, seq) => ({ url: `${receiver.url}/${name}`, body: body(run, seq) });

  /**
   * Each run on a Worker of its own, stopped when the run ends: local workerd keeps the
   * connections of its outgoing fetches open (the baseline reads each answer whole, as a bare
   * forwarder would, where Hookline cancels its reader and gives every fetch a timeout), and one
   * process runs out of open files after about 20,000 requests. Left running, such a process
   * spins on "Too many open files" and slowed Hookline's next run to a third. Restarting costs
   * the baseline nothing it measures.
   */
  async function measured(scenario, rep, events, expected, drive) {
    if (!workerPerRun) return measuredOn(scenario, rep, events, expected, drive);
    worker = await start();
    try {
      return await measuredOn(scenario, rep, events, expected, drive);
    } finally {
      await worker.stop();
    }
  }

  async function measuredOn(scenario, rep, events, expected, drive) {
    const run = `${name}-${scenario}-${rep}`;
    const errors = new Errors();
    const started = Date.now();
    await drive(run, errors);
    const acceptedEnd = Date.now();
    const received = await receiver.waitFor(run, expected, sizes.wait(expected));
    return summarize({ side: name, scenario, rep, events, expected, started, acceptedEnd, received, errors });
  }

  const scenarios = {
    // (a): one message per request, at (a)'s client concurrency.
    a: (rep) => measured("a", rep, sizes.a, sizes.a, (run, errors) => pool([...Array(sizes.a).keys()], sizes.concurrency, (i) => post("/emit", job(run, i)), errors)),
    // (b): the queue-only consumer behind the same fan-out: each call enqueues batch x subscriptions messages.
    b: (rep) =>
      measured("b", rep, sizes.bEvents, sizes.bEvents * sizes.bSubs, (run, errors) => {
        const urls = [...Array(sizes.bSubs).keys()].map((i) => `${receiver.url}/${name}/${i}`);
        const calls = [...Array(sizes.bEvents / sizes.bBatch).keys()];
        const bodies = (k) => [...Array(sizes.bBatch).keys()].map((j) => body(run, k * sizes.bBatch + j));
        return pool(calls, sizes.bConcurrency, (k) => post("/fanout", { urls, bodies: bodies(k) }), errors);
      }),
    // (c): the same steady rate, one message per request.
    c: (rep) => measured("c", rep, sizes.cRate * sizes.cSeconds, sizes.cRate * sizes.cSeconds, (run, errors) => paced(sizes.cRate * sizes.cSeconds, sizes.cRate, (i) => post("/emit", job(run, i)), errors)),
    // The client-driven figure: one POST per request, no queue at all.
    forward: (rep) => measured("forward", rep, sizes.a, sizes.a, (run, errors) => pool([...Array(sizes.a).keys()], sizes.concurrency, (i) => post("/forward", job(run, i)), errors)),
  };
  // The floor stands beside the two throughput targets only.
  if (name === "floor") for (const other of ["c", "forward"]) delete scenarios[other];
  return { scenarios, stop: () => worker.stop() };
}
