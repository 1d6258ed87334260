// Small pieces every part of the benchmark shares: deadlines, error counts, statistics.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";

export const log = (line) => console.error(`[bench] ${line}`);
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const round = (n, d = 1) => (n === null || n === undefined || !Number.isFinite(n) ? null : Math.round(n * 10 ** d) / 10 ** d);

/** Nearest-rank percentile of an ascending array; null when empty. */
export const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] : null);

/** The median of the numbers given (nulls left out); null when none. */
export function median(values) {
  const v = values.filter((x) => typeof x === "number" && Number.isFinite(x)).sort((a, b) => a - b);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/**
 * Random, so that no storage engine or transport can win by compressing it: 192 random bytes
 * in base64 are 256 characters, the size the earlier fixed padding had.
 */
export const padding = () => randomBytes(192).toString("base64");

/** Failed calls of one run, by kind: a call that misses its deadline is one of them. */
export class Errors {
  constructor() {
    this.count = 0;
    this.kinds = {};
  }
  add(err) {
    const kind = err?.name === "TimeoutError" ? "deadline" : err?.status ? `http_${err.status}` : (err?.cause?.code ?? err?.name ?? "error");
    this.count++;
    this.kinds[kind] = (this.kinds[kind] ?? 0) + 1;
    if (this.count <= 3) log(`call failed (${kind}): ${err?.message ?? err}`);
  }
  toJSON() {
    return { count: this.count, kinds: this.kinds };
  }
}

/**
 * fetch with a deadline. Without one, undici waits 300 s for headers and then throws out of the
 * whole run (UND_ERR_HEADERS_TIMEOUT); with one, the call fails alone and is counted.
 */
export async function call(url, { method = "GET", headers = {}, body, deadlineMs, expect = (s) => s >= 200 && s < 300 }) {
  const res = await fetch(url, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(deadlineMs),
  });
  const text = await res.text();
  if (!expect(res.status)) throw Object.assign(new Error(`${method} ${new URL(url).pathname}: ${res.status} ${text.slice(0, 200)}`), { status: res.status });
  return text && res.headers.get("content-type")?.includes("json") ? JSON.parse(text) : text;
}

/** Runs `work` for every item, `concurrency` at a time; a failed item is counted, not thrown. */
export async function pool(items, concurrency, work, errors) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) {
        const item = items[next++];
        await work(item).catch((err) => errors.add(err));
      }
    }),
  );
}

/** Sends `n` calls at `rate` per second on a fixed schedule (open loop: a slow answer delays nothing). */
export async function paced(n, rate, work, errors) {
  const started = Date.now();
  const calls = [];
  for (let i = 0; i < n; i++) {
    const wait = started + (i * 1000) / rate - Date.now();
    if (wait > 0) await sleep(wait);
    calls.push(work(i).catch((err) => errors.add(err)));
  }
  await Promise.all(calls);
}

/** One run's figures from its receipts: throughput from the first call to the last receipt. */
export function summarize({ side, scenario, rep, events, expected, started, acceptedEnd, received, errors }) {
  const last = received.reduce((m, r) => Math.max(m, r.at), started);
  const latencies = received.map((r) => r.at - r.sentAt).sort((x, y) => x - y);
  return {
    side,
    scenario,
    rep,
    events,
    deliveries_expected: expected,
    deliveries_received: received.length,
    errors: errors.toJSON(),
    events_accepted_per_s: round(events / (Math.max(acceptedEnd - started, 1) / 1000)),
    deliveries_per_s: round(received.length / (Math.max(last - started, 1) / 1000)),
    latency_ms: { p50: round(percentile(latencies, 50)), p95: round(percentile(latencies, 95)), p99: round(percentile(latencies, 99)) },
  };
}

/** Sockets of this machine in TIME_WAIT (Linux: /proc/net/tcp{,6}, state 06); null where it cannot be read. */
export function timeWaitSockets() {
  try {
    return ["/proc/net/tcp", "/proc/net/tcp6"]
      .filter((f) => existsSync(f))
      .reduce((n, f) => n + readFileSync(f, "utf8").split("\n").filter((l) => l.split(/\s+/)[4] === "06").length, 0);
  } catch {
    return null;
  }
}

/**
 * Before a run: waits (at most `maxMs`) until fewer than `below` sockets are in TIME_WAIT, so
 * that no run starts short of ephemeral ports because of the one before it (127.0.0.1 has
 * about 28,000; a fan-out run uses thousands of connections). Returns how long it waited.
 */
export async function settleSockets({ below = 3_000, maxMs = 90_000 } = {}) {
  const start = Date.now();
  for (let n = timeWaitSockets(); n !== null && n >= below && Date.now() - start < maxMs; n = timeWaitSockets()) await sleep(500);
  return Date.now() - start;
}
