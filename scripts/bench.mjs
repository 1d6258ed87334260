#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --reps N] [-- --out DIR]`: Hookline's throughput, latency and cost
// per delivery against baselines that take the same path without Hookline's work (bench/baseline),
// and (a) and (b) on the floor (bench/floor: the baseline plus the least D1 work a delivery log
// needs), all in one run. Starts everything it needs through the launcher, stops everything it started.
// Every call has a deadline, every wait an end, and the run writes its results whatever happens.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem, type as osType } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { startBaselineSide } from "./bench/baseline-side.mjs";
import { startHooklineSide } from "./bench/hookline-side.mjs";
import { startReceiver } from "./bench/receiver.mjs";
import { buildReport, markdown } from "./bench/report.mjs";
import { log, settleSockets, sleep } from "./bench/util.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    reps: { type: "string" },
    out: { type: "string" },
    readme: { type: "boolean", default: true },
  },
});
const QUICK = args.quick;
const OUT = resolve(args.out ?? join(ROOT, "bench", "results"));

/**
 * The local Queues broker (miniflare) arms one timer per message it is handed, and workerd allows a
 * Durable Object 10,000 active timers: past that, sendBatch fails (QuotaExceededError) and the
 * messages are lost until a sweep (the bench runs none): `node scripts/bench/queue-cap.mjs` shows it.
 * (b) at 500 events x 20 sat exactly at the cap, with no room for the broker's flush and retry timers.
 * So no scenario may put more than MAX_IN_FLIGHT messages in flight.
 */
const LOCAL_QUEUE_TIMER_CAP = 10_000;
const MAX_IN_FLIGHT = 8_000;

const SIZES = {
  reps: Number(args.reps ?? (QUICK ? 1 : 3)),
  concurrency: 16,
  a: QUICK ? 200 : 2000,
  bEvents: QUICK ? 100 : 400,
  bSubs: QUICK ? 5 : 20,
  bBatch: QUICK ? 50 : 100,
  bConcurrency: 4,
  cRate: QUICK ? 20 : 50,
  cSeconds: QUICK ? 5 : 30,
  // (d): one event per call, as (a), over many accounts on two shards.
  d: QUICK ? 200 : 2000,
  dAccounts: QUICK ? 4 : 20,
  dShards: 2,
  callDeadlineMs: 30_000,
  // Until every delivery is in, 60 s plus 25 ms per delivery at most, and never 20 s without a new one.
  wait: (expected) => ({ deadlineMs: 60_000 + 25 * expected, stallMs: 20_000 }),
};
if (SIZES.bEvents * SIZES.bSubs > MAX_IN_FLIGHT) throw new Error(`(b) would put more than ${MAX_IN_FLIGHT} messages in flight (cap ${LOCAL_QUEUE_TIMER_CAP})`);
if (!Number.isInteger(SIZES.reps) || SIZES.reps < 1) throw new Error(`--reps must be a whole number from 1, got ${args.reps}`);
// The whole run's own deadline: if anything still outlives the per-call ones, the results are written.
const RUN_DEADLINE_MS = (QUICK ? 4 : 25) * 60_000 * Math.max(1, SIZES.reps / 3);

function machine() {
  const wrangler = JSON.parse(readFileSync(join(ROOT, "node_modules", "wrangler", "package.json"), "utf8")).version;
  return {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model?.trim() ?? "unknown",
    memory_gb: Math.round(totalmem() / 2 ** 30),
    os: `${osType()} ${release()}`,
    node: process.versions.node,
    wrangler,
  };
}

const state = { runs: [], purges: {}, started: Date.now(), aborted: null };
let receiver = null;
let started = []; // the Workers up, for an aborted run to stop

function writeResults() {
  const report = buildReport({
    ...state,
    sizes: { ...SIZES, wait: undefined },
    machine: machine(),
    quick: QUICK,
    receiverInvalid: receiver?.invalid() ?? null,
    receiverCrossed: receiver?.crossed() ?? null,
  });
  const table = markdown(report);
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, "latest.json"), JSON.stringify(report, null, 2) + "\n");
  writeFileSync(join(OUT, "latest.md"), table + "\n");
  if (!QUICK && !state.aborted && args.readme && !args.out) {
    const readme = join(ROOT, "README.md");
    const text = readFileSync(readme, "utf8");
    const updated = text.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${table}\n<!-- bench:end -->`);
    if (updated !== text) writeFileSync(readme, updated);
  }
  console.log(table);
  return report;
}

async function runAll() {
  receiver = await startReceiver();
  // The three Workers stay up the whole run, so that the sides of each repetition run back to back.
  const sides = await Promise.allSettled([
    startHooklineSide(receiver, SIZES),
    startBaselineSide(ROOT, receiver, SIZES),
    startBaselineSide(ROOT, receiver, SIZES, { worker: "floor" }),
  ]);
  const failed = sides.find((s) => s.status === "rejected");
  if (failed) {
    await Promise.allSettled(sides.filter((s) => s.status === "fulfilled").map((s) => s.value.stop()));
    throw failed.reason;
  }
  const [hookline, baseline, floor] = (started = sides.map((s) => s.value));
  try {
    for (const scenario of ["a", "b", "c"]) {
      for (let rep = 1; rep <= SIZES.reps; rep++) {
        // A fresh local service for each scenario and each (b) run (hookline-side restart()).
        if ((rep === 1 && scenario !== "a") || scenario === "b") await hookline.restart();
        const order = [["hookline", hookline.scenarios[scenario]], ["baseline", baseline.scenarios[scenario]]];
        if (floor.scenarios[scenario]) order.push(["floor", floor.scenarios[scenario]]);
        for (const [side, run] of order) {
          const waited = await settleSockets();
          log(`(${scenario}) ${side}, run ${rep}/${SIZES.reps}${waited > 1000 ? ` (after ${Math.round(waited / 1000)} s for closed sockets to clear)` : ""}`);
          state.runs.push(await run(rep));
        }
        if (scenario === "a") {
          await settleSockets();
          state.runs.push(await baseline.scenarios.forward(rep));
        }
      }
      state.purges[scenario] = await hookline.purge();
    }
    // (d) on this one shard: what (d) on two is compared with.
    await hookline.restart();
    for (let rep = 1; rep <= SIZES.reps; rep++) {
      await settleSockets();
      log(`(d) hookline on 1 shard, run ${rep}/${SIZES.reps}`);
      state.runs.push(await hookline.scenarios.d(rep));
    }
    state.purges.d1 = await hookline.purge();
  } finally {
    await Promise.allSettled([hookline.stop(), baseline.stop(), floor.stop()]);
  }
  // (d): Hookline alone, on two data shards: that nothing is lost, nothing crosses between
  // accounts, and the cost per delivery is that of (a). On 2 cores it is not faster.
  const sharded = await startHooklineSide(receiver, SIZES, { shards: SIZES.dShards });
  started = [sharded];
  try {
    state.dAccountsPerShard = Array.from({ length: SIZES.dShards }, (_, i) => sharded.dAccounts.filter((a) => a.shard === i).length);
    for (let rep = 1; rep <= SIZES.reps; rep++) {
      await settleSockets();
      log(`(d) hookline on ${SIZES.dShards} shards, run ${rep}/${SIZES.reps}`);
      state.runs.push(await sharded.scenarios.d(rep));
    }
    state.purges.d = await sharded.purge();
  } finally {
    await sharded.stop();
  }
}

let watchdog;
const deadline = new Promise((_, reject) => {
  watchdog = setTimeout(() => reject(new Error(`the run passed its own deadline of ${RUN_DEADLINE_MS / 60_000} min`)), RUN_DEADLINE_MS);
  // Stopped by hand, it still writes what it measured (the launcher stops the Workers as we exit).
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => reject(new Error(`stopped by ${signal}`)));
});
try {
  await Promise.race([runAll(), deadline]);
} catch (err) {
  state.aborted = err.message;
  console.error(`[bench] aborted: ${err.stack ?? err}`);
} finally {
  clearTimeout(watchdog);
}
const report = writeResults();
// An aborted run left its Workers up: stop them (and delete their state), but not forever.
if (state.aborted) await Promise.race([Promise.allSettled(started.map((side) => side.stop())), sleep(30_000)]);
await receiver?.close();
const missing = state.runs.filter((r) => r.deliveries_received < r.deliveries_expected);
if (state.aborted || missing.length || report.errors || report.invalid_signatures) {
  console.error(
    `incomplete: ${missing.map((r) => `${r.side} ${r.scenario}#${r.rep} ${r.deliveries_received}/${r.deliveries_expected}`).join(", ") || "no delivery missing"}; ` +
      `failed calls: ${report.errors}; invalid signatures: ${report.invalid_signatures}${state.aborted ? `; aborted: ${state.aborted}` : ""}`,
  );
  process.exitCode = 1;
}
// Whatever a timed-out run left pending (a stuck call, a wrangler that would not stop) must not keep us alive.
setTimeout(() => process.exit(process.exitCode ?? 0), 1_000).unref();
