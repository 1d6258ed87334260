// `node scripts/bench/probe.mjs a|b|c [N]`: one Hookline run of a scenario, no baseline, no repeats:
// what it cost per delivery (rows written, purge, bytes, queue messages, round trips), and a copy of
// its D1 database (in $PROBE_COPY_DIR or the temporary directory) to read with sqlite3 and dbstat.
// For working on the storage; `npm run bench` is what decides.
import { cpSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHooklineSide } from "./hookline-side.mjs";
import { startReceiver } from "./receiver.mjs";
const [scenario = "a", n = "2000"] = process.argv.slice(2);
const receiver = await startReceiver();
const sizes = { a: Number(n), concurrency: 16, bEvents: Number(n), bSubs: 20, bBatch: 100, bConcurrency: 4, cRate: 20, cSeconds: 5, callDeadlineMs: 30000, wait: (e) => ({ deadlineMs: 60000 + 25 * e, stallMs: 20000 }) };
const side = await startHooklineSide(receiver, sizes);
const r = await side.scenarios[scenario](1);
// The copy is taken before the purge, which empties the log.
const walk = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
for (const f of walk(side.stateDir).filter((f) => f.includes("D1Database") && f.endsWith(".sqlite") && !f.endsWith("metadata.sqlite"))) cpSync(f, join(process.env.PROBE_COPY_DIR ?? tmpdir(), `hookline-probe-${scenario}.sqlite`));
const purge = await side.purge();
const d = r.deliveries_received;
const c = r.counted;
console.log(JSON.stringify({ delivered: d, rate: r.deliveries_per_s, rowsPerDelivery: c.d1.rowsWritten / d, purgeRows: purge.rowsWritten / d, bytes: r.d1_bytes_grown / d, messages: c.queue.messagesSent / d, retries: c.queue.retries, batches: c.invocations.queue, rtEmit: c.d1ByHandler.fetch.roundTrips, rtQueue: c.d1ByHandler.queue.roundTrips, doReq: c.durableObject.requests }));
await side.stop();
await receiver.close();
process.exit(0);
