// `node scripts/bench/probe.mjs a|b|c [N] [--baseline|--floor]`: one run of a scenario, no repeats.
// Hookline's side: what it cost per delivery (rows written, purge, bytes, queue messages, round
// trips), and a copy of its D1 database (in $PROBE_COPY_DIR or the temporary directory) to read with
// sqlite3 and dbstat. --baseline: the same run on the bench's baseline (bench/baseline) instead;
// --floor, (a) or (b) on its floor (bench/floor: the baseline plus the least D1 work a log needs).
// Either way, the CPU each local process spent per delivery and its share of one core (Linux): the
// Worker's workerd runs its JavaScript, D1's and the queue broker's on one thread.
// For working on the hot path; `npm run bench` is what decides.
import { cpSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startBaselineSide } from "./baseline-side.mjs";
import { startHooklineSide } from "./hookline-side.mjs";
import { cpuBetween, descendantsCpu } from "./process-cpu.mjs";
import { startReceiver } from "./receiver.mjs";
const args = process.argv.slice(2);
const other = args.includes("--floor") ? "floor" : args.includes("--baseline") ? "baseline" : null;
const [scenario = "a", n = "2000"] = args.filter((a) => !a.startsWith("--"));
const receiver = await startReceiver();
const sizes = { a: Number(n), concurrency: 16, bEvents: Number(n), bSubs: 20, bBatch: 100, bConcurrency: 4, cRate: 20, cSeconds: 5, callDeadlineMs: 30000, wait: (e) => ({ deadlineMs: 60000 + 25 * e, stallMs: 20000 }) };
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const side = other ? await startBaselineSide(root, receiver, sizes, { workerPerRun: false, worker: other }) : await startHooklineSide(receiver, sizes);
if (!side.scenarios[scenario]) {
  await side.stop();
  await receiver.close();
  throw new Error(`no scenario "${scenario}" on ${other ?? "hookline"}'s side; it has ${Object.keys(side.scenarios).join(", ")}`);
}
const cpuBefore = descendantsCpu();
const started = Date.now();
const r = await side.scenarios[scenario](1);
const cpu = cpuBetween(cpuBefore, descendantsCpu(), r.deliveries_received, (Date.now() - started) / 1000);
const d = r.deliveries_received;
if (other) {
  console.log(JSON.stringify({ delivered: d, rate: r.deliveries_per_s, cpu }));
} else {
  // The copy is taken before the purge, which empties the log.
  const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
  for (const f of walk(side.stateDir).filter((f) => f.includes("D1Database") && f.endsWith(".sqlite") && !f.endsWith("metadata.sqlite"))) cpSync(f, join(process.env.PROBE_COPY_DIR ?? tmpdir(), `hookline-probe-${scenario}.sqlite`));
  const purge = await side.purge();
  const c = r.counted;
  console.log(JSON.stringify({ delivered: d, rate: r.deliveries_per_s, rowsPerDelivery: c.d1.rowsWritten / d, purgeRows: purge.rowsWritten / d, bytes: r.d1_bytes_grown / d, messages: c.queue.messagesSent / d, retries: c.queue.retries, batches: c.invocations.queue, rtEmit: c.d1ByHandler.fetch.roundTrips, rtQueue: c.d1ByHandler.queue.roundTrips, statements: { emit: c.d1ByHandler.fetch.statements, queue: c.d1ByHandler.queue.statements }, rowsRead: { emit: c.d1ByHandler.fetch.rowsRead / d, queue: c.d1ByHandler.queue.rowsRead / d }, doReq: c.durableObject.requests, cpu }));
}
await side.stop();
await receiver.close();
process.exit(0);
