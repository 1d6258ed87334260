#!/usr/bin/env node
// `npm run bench [-- --quick] [-- --out DIR]`: Hookline's throughput, latency and cost per
// delivery against the physical limit of this runtime on this machine (bench/baseline).
// Starts everything it needs through the launcher, stops everything it started.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { cpus, release, tmpdir, totalmem, type as osType } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { freePort, startHookline, startWorker } from "./launcher.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: { quick: { type: "boolean", default: false }, out: { type: "string" }, readme: { type: "boolean", default: true } },
});
const QUICK = args.quick;
const OUT = resolve(args.out ?? join(ROOT, "bench", "results"));

// Cloudflare's published prices (USD), Workers Paid plan, beyond the included amounts.
// Sources: developers.cloudflare.com/workers/platform/pricing/, /d1/platform/pricing/,
// /queues/platform/pricing/, /durable-objects/platform/pricing/ — as published on 2026-11-23.
export const PRICES = {
  asOf: "2026-11-23",
  workersRequestPerMillion: 0.3,
  d1RowsReadPerMillion: 0.001,
  d1RowsWrittenPerMillion: 1.0,
  queueOperationPerMillion: 0.4,
  durableObjectRequestPerMillion: 0.15,
};

const SIZES = QUICK
  ? { a: 200, bEvents: 100, bSubs: 5, bBatch: 50, cRate: 20, cSeconds: 8, base: 200, baseRate: 20, baseSeconds: 5 }
  : { a: 2000, bEvents: 500, bSubs: 20, bBatch: 100, cRate: 50, cSeconds: 30, base: 2000, baseRate: 50, baseSeconds: 30 };
const PAD = "x".repeat(256); // every body carries the same payload, in Hookline and in the baseline
const EMIT_CONCURRENCY = 16;

const log = (line) => console.error(`[bench] ${line}`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);
const round = (n, d = 1) => (n === null || n === undefined ? null : Math.round(n * 10 ** d) / 10 ** d);

/** A keep-alive receiver on 127.0.0.1 that answers 200 at once and verifies every signature it can. */
async function startReceiver() {
  const secrets = new Map(); // path -> secret
  const seen = new Map(); // delivery key -> { at, sentAt }
  let invalid = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.timeOrigin + performance.now();
      const body = Buffer.concat(chunks).toString("utf8");
      const secret = secrets.get(req.url);
      let key = req.headers["webhook-id"];
      try {
        if (secret) new Webhook(secret).verify(body, req.headers);
        const data = JSON.parse(body).data;
        key ??= `${data.run}:${data.seq}`;
        if (!seen.has(key)) seen.set(key, { at, sentAt: data.sentAt, run: data.run });
      } catch {
        invalid++;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    secrets,
    invalid: () => invalid,
    received: (run) => [...seen.values()].filter((v) => v.run === run),
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))),
  };
}

async function waitForDeliveries(receiver, run, expected, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (receiver.received(run).length < expected && Date.now() < deadline) await sleep(50);
  return receiver.received(run);
}

/** Runs `work` for every item, `concurrency` at a time. */
async function pool(items, concurrency, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

function summarize(name, { events, deliveries, started, acceptedEnd, received, expected }) {
  const last = received.reduce((m, r) => Math.max(m, r.at), started);
  const latencies = received.map((r) => r.at - r.sentAt).sort((x, y) => x - y);
  return {
    scenario: name,
    events,
    deliveries_expected: expected,
    deliveries_received: received.length,
    events_accepted_per_s: round(events / ((acceptedEnd - started) / 1000)),
    deliveries_per_s: round(received.length / ((last - started) / 1000)),
    latency_ms: { p50: round(percentile(latencies, 50)), p95: round(percentile(latencies, 95)), p99: round(percentile(latencies, 99)) },
    deliveries,
  };
}

async function hooklineScenarios(receiver) {
  const stateDir = mkdtempSync(join(tmpdir(), "hookline-bench-"));
  const admin = "bench-admin-token";
  const hookline = await startHookline({
    port: await freePort(),
    stateDir,
    vars: {
      ADMIN_TOKEN: admin,
      SECRETS_KEY: "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
      ALLOW_INSECURE_TARGETS: "true",
      METRICS: "1",
    },
    devVars: false,
    inheritEnv: false,
    quiet: true,
    sweepIntervalMs: 0,
  });
  const api = async (method, path, body, token = admin) => {
    const res = await fetch(hookline.url + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => null);
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  try {
    await api("POST", "/v1/event-types", { name: "bench.tick", description: "benchmark event" });
    const accounts = {};
    for (const run of ["a", "b", "c"]) {
      const acct = await api("POST", "/v1/accounts", { name: `bench-${run}`, plan: "business" });
      const subs = run === "b" ? SIZES.bSubs : 1;
      for (let i = 0; i < subs; i++) {
        const path = `/${run}/${i}`;
        const sub = await api("POST", "/v1/subscriptions", { url: receiver.url + path, event_types: ["bench.tick"] }, acct.api_key.key);
        receiver.secrets.set(path, sub.secret);
      }
      accounts[run] = acct.id;
    }
    const event = (run, seq) => ({ account_id: accounts[run], type: "bench.tick", data: { run, seq, sentAt: Date.now(), pad: PAD } });
    const results = {};
    const costs = {};
    const measure = async (run, fn) => {
      await api("GET", "/__metrics?reset=1");
      const out = await fn();
      costs[run] = await api("GET", "/__metrics?reset=1");
      return out;
    };

    log(`(a) 1 subscription, ${SIZES.a} events, one call each`);
    results.a = await measure("a", async () => {
      const started = Date.now();
      await pool([...Array(SIZES.a).keys()], EMIT_CONCURRENCY, (i) => api("POST", "/v1/events", event("a", i)));
      const acceptedEnd = Date.now();
      const received = await waitForDeliveries(receiver, "a", SIZES.a, 120_000);
      return summarize("a: 1 subscription, one event per call", { events: SIZES.a, deliveries: SIZES.a, started, acceptedEnd, received, expected: SIZES.a });
    });

    const bExpected = SIZES.bEvents * SIZES.bSubs;
    log(`(b) ${SIZES.bSubs} subscriptions, ${SIZES.bEvents} events in batches of ${SIZES.bBatch}`);
    results.b = await measure("b", async () => {
      const started = Date.now();
      const batches = [...Array(SIZES.bEvents / SIZES.bBatch).keys()];
      await pool(batches, 4, (k) =>
        api("POST", "/v1/events", { events: [...Array(SIZES.bBatch).keys()].map((j) => event("b", k * SIZES.bBatch + j)) }),
      );
      const acceptedEnd = Date.now();
      // Receipts are keyed by webhook-id: one per (event, subscription).
      const received = await waitForDeliveries(receiver, "b", bExpected, 300_000);
      return summarize(`b: ${SIZES.bSubs} subscriptions (fan-out), batches of ${SIZES.bBatch}`, {
        events: SIZES.bEvents, deliveries: bExpected, started, acceptedEnd, received, expected: bExpected,
      });
    });

    const cEvents = SIZES.cRate * SIZES.cSeconds;
    log(`(c) steady ${SIZES.cRate} events/s for ${SIZES.cSeconds} s`);
    results.c = await measure("c", async () => {
      const started = Date.now();
      const sends = [];
      for (let i = 0; i < cEvents; i++) {
        const due = started + (i * 1000) / SIZES.cRate;
        const wait = due - Date.now();
        if (wait > 0) await sleep(wait);
        sends.push(api("POST", "/v1/events", event("c", i)));
      }
      await Promise.all(sends);
      const acceptedEnd = Date.now();
      const received = await waitForDeliveries(receiver, "c", cEvents, 60_000);
      return summarize(`c: steady ${SIZES.cRate} events/s for ${SIZES.cSeconds} s`, {
        events: cEvents, deliveries: cEvents, started, acceptedEnd, received, expected: cEvents,
      });
    });
    return { results, costs };
  } finally {
    await hookline.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

async function baselineScenarios(receiver) {
  const worker = await startWorker({ config: join(ROOT, "bench", "baseline", "wrangler.toml"), quiet: true, readyPath: "/health" });
  const post = async (path, body) => {
    const res = await fetch(worker.url + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    if (res.status !== 202) throw new Error(`baseline ${path}: ${res.status}`);
  };
  const job = (run, seq) => ({
    url: `${receiver.url}/baseline`,
    body: JSON.stringify({ type: "bench.tick", timestamp: new Date().toISOString(), data: { run, seq, sentAt: Date.now(), pad: PAD } }),
  });
  try {
    const results = {};
    log(`(d) baseline: ${SIZES.base} messages through the same queue settings`);
    {
      const started = Date.now();
      const jobs = [...Array(SIZES.base).keys()].map((i) => job("d", i));
      await pool([...Array(Math.ceil(SIZES.base / 100)).keys()], 4, (k) => post("/emit-batch", jobs.slice(k * 100, k * 100 + 100)));
      const acceptedEnd = Date.now();
      const received = await waitForDeliveries(receiver, "d", SIZES.base, 120_000);
      results.queue = summarize("d: baseline, queue consumer only POSTs", { events: SIZES.base, deliveries: SIZES.base, started, acceptedEnd, received, expected: SIZES.base });
    }
    log(`(d) baseline latency: ${SIZES.baseRate} messages/s for ${SIZES.baseSeconds} s`);
    {
      const n = SIZES.baseRate * SIZES.baseSeconds;
      const started = Date.now();
      const sends = [];
      for (let i = 0; i < n; i++) {
        const wait = started + (i * 1000) / SIZES.baseRate - Date.now();
        if (wait > 0) await sleep(wait);
        sends.push(post("/emit", job("dl", i)));
      }
      await Promise.all(sends);
      const acceptedEnd = Date.now();
      const received = await waitForDeliveries(receiver, "dl", n, 60_000);
      results.latency = summarize(`d: baseline at ${SIZES.baseRate} messages/s`, { events: n, deliveries: n, started, acceptedEnd, received, expected: n });
    }
    log(`(d) client-driven: ${SIZES.base} forwards, one POST per request`);
    {
      const started = Date.now();
      await pool([...Array(SIZES.base).keys()], EMIT_CONCURRENCY, (i) => post("/forward", job("df", i)));
      const acceptedEnd = Date.now();
      const received = await waitForDeliveries(receiver, "df", SIZES.base, 60_000);
      results.client = summarize("d: client-driven forward", { events: SIZES.base, deliveries: SIZES.base, started, acceptedEnd, received, expected: SIZES.base });
    }
    return results;
  } finally {
    await worker.stop();
  }
}

/** What one successful delivery costs, from the counters of a scenario. */
function costPerDelivery(c, delivered) {
  const per = (n) => round(n / delivered, 3);
  const queueOps = 3 * c.queue.messagesSent + c.queue.retries;
  const invocations = c.invocations.fetch + c.invocations.queue + c.invocations.scheduled + c.invocations.rpc;
  const perDelivery = {
    d1_round_trips: per(c.d1.roundTrips),
    d1_statements: per(c.d1.statements),
    d1_rows_written: per(c.d1.rowsWritten),
    d1_rows_read: per(c.d1.rowsRead),
    queue_operations: per(queueOps),
    durable_object_requests: per(c.durableObject.requests),
    worker_invocations: per(invocations),
  };
  const million = (n, price) => (n / delivered) * 1e6 * (price / 1e6);
  const usd = {
    workers_requests: million(invocations, PRICES.workersRequestPerMillion),
    d1_rows_written: million(c.d1.rowsWritten, PRICES.d1RowsWrittenPerMillion),
    d1_rows_read: million(c.d1.rowsRead, PRICES.d1RowsReadPerMillion),
    queue_operations: million(queueOps, PRICES.queueOperationPerMillion),
    durable_object_requests: million(c.durableObject.requests, PRICES.durableObjectRequestPerMillion),
  };
  const total = Object.values(usd).reduce((a, b) => a + b, 0);
  return { per_delivery: perDelivery, usd_per_million_deliveries: { ...Object.fromEntries(Object.entries(usd).map(([k, v]) => [k, round(v, 4)])), total: round(total, 4) }, counted: c };
}

function markdown(report) {
  const rows = [
    ["scenario", "events accepted/s", "deliveries/s", "p50 ms", "p95 ms", "p99 ms", "ratio to baseline"],
    ["---", "---:", "---:", "---:", "---:", "---:", "---:"],
  ];
  for (const s of [...report.hookline, ...report.baseline]) {
    rows.push([s.scenario, s.events_accepted_per_s, s.deliveries_per_s, s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99, s.ratio_to_baseline ?? "—"]);
  }
  const cost = report.cost;
  const lines = [
    `Measured ${report.date} on ${report.machine.cpus}× ${report.machine.cpu_model}, ${report.machine.memory_gb} GB, Node ${report.machine.node}, wrangler ${report.machine.wrangler} (local workerd)${report.quick ? ", --quick" : ""}.`,
    "",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
    `Cost per successful delivery (scenario a; b in brackets): ${cost.a.per_delivery.d1_round_trips} [${cost.b.per_delivery.d1_round_trips}] D1 round trips, ` +
      `${cost.a.per_delivery.d1_statements} [${cost.b.per_delivery.d1_statements}] statements, ${cost.a.per_delivery.d1_rows_written} [${cost.b.per_delivery.d1_rows_written}] rows written, ` +
      `${cost.a.per_delivery.queue_operations} queue operations, ${cost.a.per_delivery.durable_object_requests} Durable Object requests, ` +
      `${cost.a.per_delivery.worker_invocations} [${cost.b.per_delivery.worker_invocations}] Worker invocations. ` +
      `A million deliveries: $${cost.a.usd_per_million_deliveries.total} [$${cost.b.usd_per_million_deliveries.total}] at Cloudflare's prices of ${PRICES.asOf} (CPU time not included).`,
  ];
  return lines.join("\n");
}

async function main() {
  const receiver = await startReceiver();
  try {
    const { results, costs } = await hooklineScenarios(receiver);
    const baseline = await baselineScenarios(receiver);
    const ratio = (dps) => round(dps / baseline.queue.deliveries_per_s, 2);
    for (const s of Object.values(results)) s.ratio_to_baseline = ratio(s.deliveries_per_s);
    baseline.queue.ratio_to_baseline = 1;
    baseline.latency.ratio_to_baseline = ratio(baseline.latency.deliveries_per_s);
    baseline.client.ratio_to_baseline = ratio(baseline.client.deliveries_per_s);
    const wrangler = JSON.parse(readFileSync(join(ROOT, "node_modules", "wrangler", "package.json"), "utf8")).version;
    const report = {
      date: new Date().toISOString().slice(0, 10),
      quick: QUICK,
      machine: {
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model?.trim() ?? "unknown",
        memory_gb: Math.round(totalmem() / 2 ** 30),
        os: `${osType()} ${release()}`,
        node: process.versions.node,
        wrangler,
      },
      hookline: [results.a, results.b, results.c],
      baseline: [baseline.queue, baseline.latency, baseline.client],
      cost: { a: costPerDelivery(costs.a, results.a.deliveries_received), b: costPerDelivery(costs.b, results.b.deliveries_received), c: costPerDelivery(costs.c, results.c.deliveries_received) },
      prices: PRICES,
      invalid_signatures: receiver.invalid(),
      targets: {
        deliveries_per_s_at_least_half_baseline: Math.min(results.a.ratio_to_baseline, results.b.ratio_to_baseline) >= 0.5,
        p99_under_100ms_at_steady_rate: (results.c.latency_ms.p99 ?? Infinity) < 100,
        no_durable_object_request_when_healthy: costs.a.durableObject.requests === 0 && costs.b.durableObject.requests === 0,
        d1_round_trips_per_delivery_at_most_2: costPerDelivery(costs.a, results.a.deliveries_received).per_delivery.d1_round_trips <= 2,
      },
    };
    mkdirSync(OUT, { recursive: true });
    const table = markdown(report);
    writeFileSync(join(OUT, "latest.json"), JSON.stringify(report, null, 2) + "\n");
    writeFileSync(join(OUT, "latest.md"), table + "\n");
    if (!QUICK && args.readme && !args.out) {
      const readme = join(ROOT, "README.md");
      const text = readFileSync(readme, "utf8");
      const updated = text.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, `<!-- bench:start -->\n${table}\n<!-- bench:end -->`);
      if (updated !== text) writeFileSync(readme, updated);
    }
    console.log(table);
    const missing = report.hookline.concat(report.baseline).filter((s) => s.deliveries_received < s.deliveries_expected);
    if (missing.length || report.invalid_signatures > 0) {
      console.error(`incomplete: ${missing.map((s) => `${s.scenario} ${s.deliveries_received}/${s.deliveries_expected}`).join(", ")}; invalid signatures: ${report.invalid_signatures}`);
      process.exitCode = 1;
    }
  } finally {
    await receiver.close();
  }
}

await main();
