#!/usr/bin/env node
// `npm run chaos [-- --quick] [-- --seed N] [-- --out DIR] [-- --shards N]`: at-least-once delivery under crashes.
// With --shards N (N > 1) Hookline runs N data shards and the account lives on the last one.
//
// Starts Hookline through the launcher on a fresh state directory, five subscriptions (one
// business account), each to its own receiver on 127.0.0.1 that fails at random (500s, stalls
// longer than DELIVERY_TIMEOUT_MS, reset connections) and, for one of them, goes down for a
// run of consecutive requests. Emits events over time while SIGKILLing the whole Hookline
// process group at random moments and restarting it on the same state and port; emits are
// retried until accepted, with an idempotency key per event. Then waits until nothing is
// pending or in flight, reads the whole log back through the API and checks:
//   - every (event, subscription) pair reached its receiver with a 200, or is `failed` after all
//     its attempts, or `skipped` after a deactivation that the log justifies (lost = 0);
//   - no subscription was switched off without DEACTIVATE_AFTER consecutive failed attempts
//     in its log before its disabled_at;
//   - no delivery ever had two attempts in flight at once (recorded attempts, and requests at
//     the receivers);
//   - every accepted event is stored exactly once; every signature verifies.
// Duplicates (a webhook-id received again after a 200) are counted, not forbidden: delivery is
// at least once. Writes a JSON report (default bench/results/chaos-latest.json), prints a
// summary, and exits 1 if any check fails. Every random choice comes from --seed.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, watch, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { Webhook } from "standardwebhooks";
import { freePort, startHookline, waitForPortFree } from "./launcher.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const { values: args } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    out: { type: "string" },
    seed: { type: "string" },
    events: { type: "string" },
    kills: { type: "string" },
    keep: { type: "boolean", default: false },
    verbose: { type: "boolean", default: false },
    shards: { type: "string", default: "1" },
  },
});
const SHARDS = Number(args.shards);
if (!Number.isInteger(SHARDS) || SHARDS < 1) throw new Error(`--shards must be a whole number from 1, got ${args.shards}`);
const QUICK = args.quick;
const SEED = args.seed !== undefined ? Number(args.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const OUT = resolve(args.out ?? join(ROOT, "bench", "results"));

const SUBSCRIPTIONS = 5;
const DEACTIVATE_AFTER = 10;
const RETRY_SCHEDULE = QUICK ? [1, 2, 4] : [1, 10, 60];
const DELIVERY_TIMEOUT_MS = QUICK ? 3_000 : 10_000;
// src/core/delivery-state.ts leaseMs, by a delivery's place in its batch's send order:
// (floor(place / 6) + 1) x DELIVERY_TIMEOUT_MS + 30 s; the last of 250 (25 messages of ten).
const LEASE_MS = { places_1_to_6: DELIVERY_TIMEOUT_MS + 30_000, place_250: 42 * DELIVERY_TIMEOUT_MS + 30_000 };
const STALL_MS = DELIVERY_TIMEOUT_MS + 1_000; // 11 s in the full run
const ATTEMPTS = RETRY_SCHEDULE.length + 1;
const EVENTS = Number(args.events ?? (QUICK ? 100 : 1000));
const KILLS = Number(args.kills ?? (QUICK ? 2 : 6));
const SIZES = QUICK
  ? // The drain outlasts the longest lease a kill can strand (a full consumer batch of 25 messages
    // of 10 deliveries: core/delivery-state leaseMs at place 249) and a sweep after it.
    { emitSeconds: 16, killGap: [3, 6], stallRate: 0.004, sweepEveryMs: 3_000, drainTimeoutMs: (Math.ceil(250 / 6) + 1) * DELIVERY_TIMEOUT_MS + 30_000 + 15_000 }
  : { emitSeconds: Math.max(30, EVENTS * 0.15), killGap: [12, 28], stallRate: 0.002, sweepEveryMs: 10_000, drainTimeoutMs: 600_000 };
const EMIT_CONCURRENCY = 8;
const READ_CONCURRENCY = 6;
const ADMIN_TOKEN = "chaos-admin-token";
const SECRETS_KEY = randomBytes(32).toString("base64"); // the same for every restart of this run
const EVENT_TYPE = "chaos.tick";

const log = (line) => console.error(`[chaos] ${line}`);
const vlog = (line) => args.verbose && log(line);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const round = (n, d = 1) => (n === null || n === undefined ? null : Math.round(n * 10 ** d) / 10 ** d);
const T0 = Date.now();
const since = (t = Date.now()) => round((t - T0) / 1000, 2);

/** mulberry32: the one source of the run's random choices, drawn in a fixed order. */
function rngFrom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}
const rng = rngFrom(SEED);
const uniform = (lo, hi) => lo + rng() * (hi - lo);
/** A receiver's choice for one request: a function of the seed and what the request is, not of timing. */
const draw = (...parts) => createHash("sha256").update([SEED, ...parts].join(":")).digest().readUInt32BE(0) / 2 ** 32;

// ---------------------------------------------------------------------------------------------
// The plan: everything random is decided here, from the seed, before anything runs.

const outageSub = Math.floor(rng() * SUBSCRIPTIONS);
const expectedRequestsPerSub = EVENTS * 1.15;
const receiverPlans = Array.from({ length: SUBSCRIPTIONS }, (_, i) => ({
  index: i,
  rates: { status_500: round(uniform(0.05, 0.12), 3), reset: round(uniform(0.02, 0.05), 3), stall: SIZES.stallRate },
  // One receiver goes down for a run of consecutive requests: enough failed attempts in a row to
  // be switched off (2x the threshold, so an attempt cut by a kill cannot save it).
  outage:
    i === outageSub
      ? { from_request: Math.floor(uniform(0.2, 0.45) * expectedRequestsPerSub), requests: 2 * DEACTIVATE_AFTER + 5 }
      : null,
}));

const calls = [];
{
  const rate = EVENTS / SIZES.emitSeconds;
  let seq = 0;
  while (seq < EVENTS) {
    const size = Math.min(EVENTS - seq, rng() < 0.7 ? 1 : 2 + Math.floor(rng() * 4));
    const seqs = Array.from({ length: size }, (_, j) => seq + j);
    // Half the single events carry the Idempotency-Key header; the rest an idempotency_key per event.
    calls.push({ seqs, dueMs: Math.round((seq / rate) * 1000), keyStyle: size === 1 && rng() < 0.5 ? "header" : "body" });
    seq += size;
  }
}
const killGapsMs = Array.from({ length: KILLS }, () => Math.round(uniform(SIZES.killGap[0], SIZES.killGap[1]) * 1000));

// ---------------------------------------------------------------------------------------------
// Receivers.

/**
 * A receiver on 127.0.0.1 that verifies the Standard Webhooks signature and answers 200, 500,
 * a reset connection or a stall past the timeout. It records every request: webhook-id, arrival,
 * the outcome it chose, when the exchange ended and whether the client went away first.
 */
async function startReceiver(plan) {
  const records = [];
  const perId = new Map();
  let secret = null;
  let arrivals = 0;
  let open = 0;
  const server = createServer((req, res) => {
    const at = Date.now();
    const n = arrivals++;
    open++;
    let rec = null; // set once the body is read; a request cut before that leaves no record
    let closedAt = null;
    res.on("close", () => {
      open--;
      closedAt = Date.now();
      if (rec) {
        rec.end = Date.now();
        rec.client_gone = !res.writableFinished;
      }
    });
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const id = String(req.headers["webhook-id"] ?? "");
      let valid = true;
      try {
        new Webhook(secret).verify(body, req.headers);
      } catch {
        valid = false;
      }
      let seq = null;
      try {
        seq = JSON.parse(body).data.seq;
      } catch {}
      const nth = perId.get(id) ?? 0;
      perId.set(id, nth + 1);
      let outcome;
      if (!valid) outcome = "invalid_signature";
      else if (plan.outage && n >= plan.outage.from_request && n < plan.outage.from_request + plan.outage.requests) {
        outcome = draw("outage", plan.index, n) < 0.5 ? "status_500" : "reset";
      } else {
        const u = draw(plan.index, seq, nth);
        const { stall, reset, status_500 } = plan.rates;
        outcome = u < stall ? "stall" : u < stall + reset ? "reset" : u < stall + reset + status_500 ? "status_500" : "ok";
      }
      rec = { id, seq, n, at, outcome, end: closedAt, client_gone: closedAt !== null };
      records.push(rec);
      if (outcome === "ok") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"ok":true}');
      } else if (outcome === "status_500") {
        res.writeHead(500, { "content-type": "application/json" });
        res.end('{"error":"chaos"}');
      } else if (outcome === "invalid_signature") {
        res.writeHead(401);
        res.end();
      } else if (outcome === "reset") {
        req.socket.destroy();
      } else {
        setTimeout(() => {
          if (!res.destroyed) {
            res.writeHead(200, { "content-type": "application/json" });
            res.end('{"ok":"late"}');
          }
        }, STALL_MS);
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    plan,
    url: `http://127.0.0.1:${server.address().port}/hook`,
    records,
    setSecret: (s) => (secret = s),
    open: () => open,
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(() => r()))),
  };
}

// ---------------------------------------------------------------------------------------------
// Hookline, killed and restarted.

const stateDir = mkdtempSync(join(tmpdir(), "hookline-chaos-"));
const port = await freePort();
const BASE = `http://127.0.0.1:${port}`;
const vars = {
  ADMIN_TOKEN,
  SECRETS_KEY,
  ALLOW_INSECURE_TARGETS: "true",
  RETRY_SCHEDULE: RETRY_SCHEDULE.join(","),
  DEACTIVATE_AFTER: String(DEACTIVATE_AFTER),
  DELIVERY_TIMEOUT_MS: String(DELIVERY_TIMEOUT_MS),
  ...(SHARDS > 1 ? { SHARDS: String(SHARDS) } : {}),
};
const start = () =>
  startHookline({
    port,
    stateDir,
    vars,
    devVars: false,
    inheritEnv: false,
    quiet: !args.verbose,
    sweepIntervalMs: 60_000,
    devRegistry: join(stateDir, "dev-registry"),
  });
let hookline = null;
const kills = [];

async function killAndRestart() {
  const old = hookline;
  const killedAt = Date.now();
  old.kill("SIGKILL");
  await Promise.race([old.exited, sleep(10_000)]);
  await old.stop(); // the group is gone: this only clears its sweep timer and waits for the port
  await waitForPortFree(port);
  const freeAt = Date.now();
  let restarted = null;
  for (let i = 0; i < 3 && !restarted; i++) {
    try {
      restarted = await start();
    } catch (err) {
      log(`restart ${i + 1} failed: ${err.message.split("\n")[0]}`);
      if (i === 2) throw err;
      await waitForPortFree(port);
    }
  }
  hookline = restarted;
  const kill = { at_s: since(killedAt), at_ms: killedAt, port_free_ms: freeAt - killedAt, down_ms: Date.now() - killedAt, startup_ms: restarted.startupMs };
  kills.push(kill);
  log(`kill ${kills.length}/${KILLS} at ${kill.at_s}s: port free after ${kill.port_free_ms} ms, back after ${kill.down_ms} ms`);
}

/**
 * The cron sweep, fired by this script every few seconds through whichever Hookline is up (the
 * launcher's own minute timer restarts with every restart, so it would rarely fire between kills).
 */
let sweepsFired = 0;
let sweeping = false;
async function sweepLoop() {
  while (sweeping) {
    await sleep(SIZES.sweepEveryMs);
    if (!sweeping) break;
    try {
      await hookline.sweep();
      sweepsFired++;
    } catch {
      // Down or restarting: the next one will do.
    }
  }
}

/**
 * wrangler dev rebuilds and reloads the Worker whenever a file under src/ changes (its custom
 * build watches src/). In a tree others are editing, that is an unplanned restart: record them,
 * so the duplicates they cause are not mistaken for something else.
 */
const sourceChanges = [];
function watchSources() {
  try {
    return watch(join(ROOT, "src"), { recursive: true }, (_event, file) => {
      const at = Date.now();
      const last = sourceChanges.at(-1);
      if (last && last.file === String(file) && at - last.at_ms < 2_000) return;
      sourceChanges.push({ at_s: since(at), at_ms: at, file: `src/${file}` });
      log(`src/${file} changed: wrangler dev reloads Hookline`);
    });
  } catch (err) {
    log(`cannot watch src/: ${err.message}`);
    return null;
  }
}

async function request(method, path, { body, token = ADMIN_TOKEN, headers = {}, timeoutMs = 15_000 } = {}) {
  const res = await fetch(BASE + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    body: body !== undefined ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {}
  return { status: res.status, headers: res.headers, json, text };
}

/** A read or setup call that must succeed: retried on network errors and 5xx (Hookline may be restarting). */
async function api(method, path, opts = {}, tries = 20) {
  for (let i = 1; ; i++) {
    try {
      const res = await request(method, path, opts);
      if (res.status < 500) {
        if (res.status >= 400) throw Object.assign(new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`), { final: true });
        return res.json;
      }
      if (i >= tries) throw new Error(`${method} ${path}: ${res.status} ${res.text.slice(0, 300)}`);
    } catch (err) {
      if (err.final || i >= tries) throw err;
    }
    await sleep(500);
  }
}

async function pool(items, concurrency, work) {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]);
    }),
  );
}

async function listAll(path, token) {
  const rows = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token });
    rows.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Emitting, with retries until accepted.

const emitStats = { calls: calls.length, attempts: 0, retried_calls: 0, refused: 0, lost_answers: 0, server_errors: 0, replayed: 0, rejected: 0 };
const accepted = new Map(); // seq -> event id
const rejections = [];
const unanswered = []; // calls that lost an answer before one was accepted: was the lost one stored?

function eventOf(accountId, seq, keyStyle) {
  const event = { account_id: accountId, type: EVENT_TYPE, subject: `chaos/${seq % 17}`, data: { seq, seed: SEED } };
  if (keyStyle === "body") event.idempotency_key = `chaos-${SEED}-${seq}`;
  return event;
}

async function emitCall(accountId, call) {
  const events = call.seqs.map((seq) => eventOf(accountId, seq, call.keyStyle));
  const body = events.length === 1 ? events[0] : { events };
  const headers = call.keyStyle === "header" ? { "idempotency-key": `chaos-${SEED}-${call.seqs[0]}` } : {};
  let answerLost = false;
  for (let attempt = 1; ; attempt++) {
    emitStats.attempts++;
    if (attempt === 2) emitStats.retried_calls++;
    const sentAt = Date.now();
    try {
      const res = await request("POST", "/v1/events", { body, headers, timeoutMs: 20_000 });
      if (res.status === 202) {
        if (res.headers.get("idempotent-replayed") === "true") emitStats.replayed++;
        if (answerLost) unanswered.push({ seqs: call.seqs, accepted_by_request_at: sentAt });
        res.json.data.forEach((answer, j) => {
          const seq = call.seqs[j];
          const before = accepted.get(seq);
          if (before && before !== answer.id) rejections.push({ seq, problem: `accepted twice as ${before} and ${answer.id}` });
          accepted.set(seq, answer.id);
          if (answer.deliveries !== SUBSCRIPTIONS) vlog(`event ${seq} matched ${answer.deliveries} subscriptions`);
        });
        return;
      }
      if (res.status < 500) {
        emitStats.rejected++;
        rejections.push({ seqs: call.seqs, status: res.status, body: res.text.slice(0, 500) });
        return;
      }
      emitStats.server_errors++;
    } catch (err) {
      // ECONNREFUSED: never sent. Anything else (reset, timeout) may have been stored: the key decides.
      if (err.cause?.code === "ECONNREFUSED") emitStats.refused++;
      else {
        emitStats.lost_answers++;
        answerLost = true;
      }
    }
    await sleep(200 + Math.random() * 300);
  }
}

async function emitAll(accountId) {
  const started = Date.now();
  let inFlight = 0;
  const waiters = [];
  const acquire = () => (inFlight < EMIT_CONCURRENCY ? (inFlight++, Promise.resolve()) : new Promise((r) => waiters.push(r)));
  const release = () => (waiters.length ? waiters.shift()() : inFlight--);
  const pending = [];
  for (const call of calls) {
    const wait = started + call.dueMs - Date.now();
    if (wait > 0) await sleep(wait);
    await acquire();
    pending.push(emitCall(accountId, call).finally(release));
  }
  await Promise.all(pending);
  return Date.now() - started;
}

// ---------------------------------------------------------------------------------------------
// Waiting for the end.

async function openDeliveries(subs, token) {
  let total = 0;
  for (const sub of subs) {
    for (const status of ["pending", "in_flight"]) {
      const page = await api("GET", `/v1/subscriptions/${sub.id}/deliveries?status=${status}&limit=100`, { token });
      total += page.data.length;
    }
  }
  return total;
}

async function drain(subs, token) {
  const started = Date.now();
  let clean = 0;
  let lastLog = 0;
  for (;;) {
    const open = await openDeliveries(subs, token);
    if (Date.now() - lastLog > (QUICK ? 5_000 : 20_000)) {
      log(`draining: ${open}${open >= 100 ? "+" : ""} deliveries pending or in flight (${since()}s)`);
      lastLog = Date.now();
    }
    clean = open === 0 ? clean + 1 : 0;
    if (clean >= 2) break;
    if (Date.now() - started > SIZES.drainTimeoutMs) {
      log(`gave up waiting after ${SIZES.drainTimeoutMs / 1000}s: ${open} still open`);
      break;
    }
    await sleep(SIZES.sweepEveryMs);
  }
  return Date.now() - started;
}

async function settleReceivers(receivers) {
  // Let stalled requests finish at the receivers so every record has an end.
  const deadline = Date.now() + STALL_MS + 2_000;
  while (receivers.some((r) => r.open() > 0) && Date.now() < deadline) await sleep(100);
}

// ---------------------------------------------------------------------------------------------
// Reading the log back and checking it.

async function collect(accountId, token, subs) {
  const events = await listAll(`/v1/events?account_id=${accountId}`, ADMIN_TOKEN);
  const deliveries = [];
  const subscriptions = [];
  for (const sub of subs) {
    subscriptions.push(await api("GET", `/v1/subscriptions/${sub.id}`, { token }));
    deliveries.push(...(await listAll(`/v1/subscriptions/${sub.id}/deliveries`, token)));
  }
  const detailed = [];
  await pool(deliveries, READ_CONCURRENCY, async (d) => {
    detailed.push(await api("GET", `/v1/deliveries/${d.id}`, { token }));
  });
  return { events, subscriptions, deliveries: detailed };
}

function analyze({ events, subscriptions, deliveries }, subs, receivers) {
  const violations = [];
  const violation = (check, detail) => violations.push({ check, ...detail });
  const subIndex = new Map(subs.map((s, i) => [s.id, i]));

  // Events: every accepted one stored exactly once, and nothing else.
  const eventSeq = new Map();
  const seqCount = new Map();
  for (const e of events) {
    eventSeq.set(e.id, e.data?.seq);
    seqCount.set(e.data?.seq, (seqCount.get(e.data?.seq) ?? 0) + 1);
  }
  const missingEvents = [];
  for (const [seq, id] of accepted) if (!eventSeq.has(id)) missingEvents.push({ seq, id });
  const storedTwice = [...seqCount].filter(([, n]) => n > 1).map(([seq, n]) => ({ seq, copies: n }));
  const acceptedIds = new Set(accepted.values());
  const unexpected = events.filter((e) => !acceptedIds.has(e.id)).map((e) => ({ id: e.id, seq: e.data?.seq }));
  for (const m of missingEvents) violation("every_event_stored_once", { event_id: m.id, seq: m.seq, problem: "accepted but not stored" });
  for (const d of storedTwice) violation("every_event_stored_once", { seq: d.seq, problem: `stored ${d.copies} times` });
  for (const u of unexpected) violation("every_event_stored_once", { event_id: u.id, seq: u.seq, problem: "stored but never accepted" });
  for (const r of rejections) violation("every_event_stored_once", { problem: "emit refused", ...r });
  // An emit whose answer was lost but which was stored all the same: its key made the retry a replay.
  const createdAt = new Map(events.map((e) => [e.id, Date.parse(e.created_at)]));
  emitStats.stored_although_answer_lost = unanswered
    .flatMap((u) => u.seqs.map((seq) => createdAt.get(accepted.get(seq)) < u.accepted_by_request_at))
    .filter(Boolean).length;
  if (accepted.size !== EVENTS) violation("every_event_stored_once", { problem: `${accepted.size} of ${EVENTS} events accepted` });

  // Receivers, by webhook-id.
  const received = new Map(); // delivery id -> records, in arrival order
  let invalidSignatures = 0;
  for (const r of receivers) {
    for (const rec of r.records) {
      if (rec.outcome === "invalid_signature") invalidSignatures++;
      const list = received.get(rec.id) ?? [];
      list.push({ ...rec, sub: r.plan.index });
      received.set(rec.id, list);
    }
  }
  if (invalidSignatures) violation("signatures_valid", { problem: `${invalidSignatures} requests with a signature that does not verify` });

  // Subscriptions: was each deactivation justified by its log?
  const attemptsBySub = new Map(subs.map((s) => [s.id, []]));
  for (const d of deliveries) for (const a of d.attempts) attemptsBySub.get(d.subscription_id)?.push({ ...a, delivery_id: d.id });
  const subReport = subscriptions.map((s) => {
    const all = attemptsBySub.get(s.id).map((a) => ({ ...a, start: Date.parse(a.started_at), end: Date.parse(a.started_at) + a.duration_ms }));
    const out = {
      id: s.id,
      index: subIndex.get(s.id),
      active: s.active,
      disabled_at: s.disabled_at,
      disabled_reason: s.disabled_reason,
      consecutive_failures: s.consecutive_failures,
      attempts: all.length,
      failed_attempts: all.filter((a) => a.outcome !== "success").length,
      outage: receivers[subIndex.get(s.id)].plan.outage,
    };
    if (s.active) return out;
    const disabledAt = Date.parse(s.disabled_at);
    // The Durable Object counts attempts as they are reported, after they end: order them by end.
    const before = all.filter((a) => a.end <= disabledAt).sort((x, y) => x.end - y.end || x.start - y.start);
    let run = 0;
    let longest = 0;
    for (const a of before) {
      run = a.outcome === "success" ? 0 : run + 1;
      longest = Math.max(longest, run);
    }
    out.deactivation = {
      justified: longest >= DEACTIVATE_AFTER,
      longest_failure_run_before: longest,
      trailing_failure_run_before: run,
      attempts_before: before.length,
      attempts_after: all.length - before.length,
    };
    if (!out.deactivation.justified) {
      violation("deactivations_justified", {
        subscription_id: s.id,
        disabled_at: s.disabled_at,
        problem: `switched off with at most ${longest} consecutive failed attempts before disabled_at`,
        last_attempts: before.slice(-15).map((a) => ({ delivery_id: a.delivery_id, number: a.number, started_at: a.started_at, duration_ms: a.duration_ms, outcome: a.outcome })),
      });
    }
    return out;
  });
  const subById = new Map(subReport.map((s) => [s.id, s]));

  // Pairs: one delivery per (event, subscription), each accounted for.
  const byPair = new Map();
  for (const d of deliveries) {
    const key = `${d.event_id}|${d.subscription_id}`;
    const list = byPair.get(key) ?? [];
    list.push(d);
    byPair.set(key, list);
  }
  const byStatus = {};
  const attemptOutcomes = {};
  let attemptsTotal = 0;
  const pairs = { expected: accepted.size * SUBSCRIPTIONS, received: 0, failed_after_all_attempts: 0, skipped_after_deactivation: 0, lost: 0, failed_but_received: 0, skipped_but_received: 0 };
  const lost = [];
  for (const [seq, eventId] of [...accepted].sort((a, b) => a[0] - b[0])) {
    for (const sub of subs) {
      const list = byPair.get(`${eventId}|${sub.id}`) ?? [];
      if (list.length !== 1) {
        if (list.length > 1) violation("one_delivery_per_pair", { event_id: eventId, subscription_id: sub.id, deliveries: list.map((d) => d.id) });
        if (list.length === 0) {
          pairs.lost++;
          lost.push({ event_id: eventId, seq, subscription_id: sub.id, problem: "no delivery recorded" });
          continue;
        }
      }
      const d = list[0];
      const recs = (received.get(d.id) ?? []).filter((r) => r.sub === subIndex.get(sub.id));
      const wrongSeq = recs.filter((r) => r.seq !== seq);
      if (wrongSeq.length) violation("receivers_got_the_right_event", { delivery_id: d.id, expected_seq: seq, got: wrongSeq.map((r) => r.seq) });
      const gotOk = recs.some((r) => r.outcome === "ok");
      const subInfo = subById.get(sub.id);
      if (gotOk) {
        pairs.received++;
        if (d.status === "failed") pairs.failed_but_received++;
        if (d.status === "skipped") pairs.skipped_but_received++;
      } else if (d.status === "failed" && d.attempts.length === ATTEMPTS && d.attempts.every((a) => a.outcome !== "success")) {
        pairs.failed_after_all_attempts++;
      } else if (d.status === "skipped" && !subInfo.active && subInfo.deactivation?.justified && !d.attempts.some((a) => a.outcome === "success")) {
        pairs.skipped_after_deactivation++;
      } else {
        pairs.lost++;
        lost.push({
          event_id: eventId,
          seq,
          subscription_id: sub.id,
          delivery_id: d.id,
          status: d.status,
          attempts: d.attempts.map((a) => ({ number: a.number, started_at: a.started_at, duration_ms: a.duration_ms, outcome: a.outcome, status_code: a.status_code, error: a.error })),
          receiver_saw: recs.map((r) => ({ at: new Date(r.at).toISOString(), outcome: r.outcome })),
          subscription_active: subInfo.active,
        });
      }
    }
  }
  for (const l of lost) violation("lost_is_zero", l);

  // Every delivery: consistent attempts, never two in flight at once.
  let overlapping = 0;
  for (const d of deliveries) {
    byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
    attemptsTotal += d.attempts.length;
    for (const a of d.attempts) attemptOutcomes[a.outcome] = (attemptOutcomes[a.outcome] ?? 0) + 1;
    if (d.status === "pending" || d.status === "in_flight") violation("no_stuck_deliveries", { delivery_id: d.id, status: d.status, next_attempt_at: d.next_attempt_at, attempts: d.attempts.length });
    const sorted = [...d.attempts].sort((x, y) => Date.parse(x.started_at) - Date.parse(y.started_at));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      if (Date.parse(prev.started_at) + prev.duration_ms > Date.parse(sorted[i].started_at)) {
        overlapping++;
        violation("no_overlapping_attempts", { delivery_id: d.id, attempts: [prev, sorted[i]].map((a) => ({ id: a.id, number: a.number, started_at: a.started_at, duration_ms: a.duration_ms, outcome: a.outcome })) });
      }
    }
    const numbers = d.attempts.map((a) => a.number);
    if (new Set(numbers).size !== numbers.length) violation("attempts_consistent", { delivery_id: d.id, problem: `attempt numbers ${numbers}` });
    if (d.attempts.length > ATTEMPTS) violation("attempts_consistent", { delivery_id: d.id, problem: `${d.attempts.length} attempts, the schedule allows ${ATTEMPTS}` });
    if (d.attempts_count !== d.attempts.length) violation("attempts_consistent", { delivery_id: d.id, problem: `attempts_count ${d.attempts_count}, ${d.attempts.length} attempts in the log` });
    const firstSuccess = sorted.findIndex((a) => a.outcome === "success");
    if (firstSuccess >= 0 && firstSuccess < sorted.length - 1) violation("attempts_consistent", { delivery_id: d.id, problem: "attempted again after a success" });
    if (d.status === "delivered") {
      if (firstSuccess < 0) violation("attempts_consistent", { delivery_id: d.id, problem: "delivered without a successful attempt" });
      if (!(received.get(d.id) ?? []).some((r) => r.outcome === "ok")) violation("attempts_consistent", { delivery_id: d.id, problem: "delivered, but its receiver never answered 200" });
    }
    if (d.status === "failed" && d.attempts.length !== ATTEMPTS) violation("attempts_consistent", { delivery_id: d.id, problem: `failed after ${d.attempts.length} attempts` });
    if (d.status === "skipped" && subById.get(d.subscription_id)?.active) violation("attempts_consistent", { delivery_id: d.id, problem: "skipped, but its subscription is active" });
  }

  // Receivers: duplicates (received again after a 200), and two requests of one delivery open at once.
  const killTimes = kills.map((k) => k.at_ms);
  const attemptsOf = new Map(deliveries.map((d) => [d.id, d.attempts]));
  const duplicates = { total: 0, deliveries: 0, after_a_kill: 0, after_a_reload: 0, unexplained: 0, examples: [] };
  let concurrent = 0;
  for (const [id, recs] of received) {
    const sorted = [...recs].sort((x, y) => x.at - y.at);
    const firstOk = sorted.findIndex((r) => r.outcome === "ok");
    if (firstOk >= 0 && firstOk < sorted.length - 1) {
      const again = sorted.slice(firstOk + 1);
      duplicates.total += again.length;
      duplicates.deliveries++;
      // Why it came again: a kill between the 200 and the next request, or a live reload of
      // wrangler dev (a file under src/ changed: someone else's edit in a shared tree).
      const killed = killTimes.some((t) => t >= sorted[firstOk].at && t <= again[0].at);
      const reloaded = !killed && sourceChanges.some((c) => c.at_ms >= sorted[firstOk].at - 15_000 && c.at_ms <= again[0].at);
      const cause = killed ? "kill" : reloaded ? "reload" : "unexplained";
      if (killed) duplicates.after_a_kill += again.length;
      else if (reloaded) duplicates.after_a_reload += again.length;
      else duplicates.unexplained += again.length;
      const shown = duplicates.examples.filter((e) => e.cause === cause).length;
      if (shown < (cause === "unexplained" ? 20 : 5)) {
        duplicates.examples.push({
          delivery_id: id,
          cause,
          requests: sorted.map((r) => ({ at: new Date(r.at).toISOString(), outcome: r.outcome })),
          attempts_in_log: (attemptsOf.get(id) ?? []).map((a) => ({ number: a.number, started_at: a.started_at, duration_ms: a.duration_ms, outcome: a.outcome })),
        });
      }
    }
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      if (prev.end === null || prev.end > sorted[i].at) {
        concurrent++;
        violation("no_concurrent_requests_at_receivers", {
          delivery_id: id,
          requests: [prev, sorted[i]].map((r) => ({ at: new Date(r.at).toISOString(), end: r.end && new Date(r.end).toISOString(), outcome: r.outcome, client_gone: r.client_gone })),
        });
      }
    }
  }
  const known = new Set(deliveries.map((d) => d.id));
  const phantom = [...received.keys()].filter((id) => !known.has(id));
  for (const id of phantom) violation("receivers_got_the_right_event", { delivery_id: id, problem: "a webhook-id no delivery of the log has" });

  const checks = {
    lost_is_zero: pairs.lost === 0,
    every_pair_accounted_for: pairs.received + pairs.failed_after_all_attempts + pairs.skipped_after_deactivation === pairs.expected && pairs.expected === EVENTS * SUBSCRIPTIONS,
    every_event_stored_once: !violations.some((v) => v.check === "every_event_stored_once"),
    deactivations_justified: !violations.some((v) => v.check === "deactivations_justified"),
    no_overlapping_attempts: overlapping === 0,
    no_concurrent_requests_at_receivers: concurrent === 0,
    no_stuck_deliveries: !violations.some((v) => v.check === "no_stuck_deliveries"),
    attempts_consistent: !violations.some((v) => v.check === "attempts_consistent" || v.check === "one_delivery_per_pair"),
    receivers_got_the_right_event: !violations.some((v) => v.check === "receivers_got_the_right_event"),
    signatures_valid: invalidSignatures === 0,
  };

  const receiverReport = receivers.map((r) => {
    const outcomes = {};
    for (const rec of r.records) outcomes[rec.outcome] = (outcomes[rec.outcome] ?? 0) + 1;
    return { index: r.plan.index, subscription_id: subs[r.plan.index].id, rates: r.plan.rates, outage: r.plan.outage, requests: r.records.length, outcomes };
  });

  return {
    checks,
    events: { accepted: accepted.size, stored: events.length, missing: missingEvents.length, stored_twice: storedTwice.length, unexpected: unexpected.length },
    deliveries: { total: deliveries.length, by_status: byStatus, attempts: attemptsTotal, attempts_by_outcome: attemptOutcomes },
    pairs,
    duplicates,
    overlapping_attempts: overlapping,
    concurrent_requests_at_receivers: concurrent,
    invalid_signatures: invalidSignatures,
    subscriptions: subReport,
    receivers: receiverReport,
    violations: violations.slice(0, 100),
    violations_total: violations.length,
  };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  log(`seed ${SEED}: ${EVENTS} events over ~${SIZES.emitSeconds}s, ${KILLS} kills, RETRY_SCHEDULE ${RETRY_SCHEDULE}, DELIVERY_TIMEOUT_MS ${DELIVERY_TIMEOUT_MS}`);
  const receivers = await Promise.all(receiverPlans.map(startReceiver));
  let report = null;
  let sweeper = null;
  let watcher = null;
  try {
    hookline = await start();
    const firstStartupMs = hookline.startupMs;
    watcher = watchSources();
    log(`Hookline ready on ${BASE} in ${firstStartupMs} ms (state in ${stateDir})`);

    await api("POST", "/v1/event-types", { body: { name: EVENT_TYPE, description: "chaos test event" } });
    const account = await api("POST", "/v1/accounts", { body: { name: `chaos-${SEED}`, plan: "business", ...(SHARDS > 1 ? { shard: SHARDS - 1 } : {}) } });
    const token = account.api_key.key;
    const subs = [];
    for (const r of receivers) {
      const sub = await api("POST", "/v1/subscriptions", { token, body: { url: r.url, event_types: [EVENT_TYPE], description: `chaos receiver ${r.plan.index}` } });
      r.setSecret(sub.secret);
      subs.push(sub);
    }

    log(`emitting ${EVENTS} events in ${calls.length} calls while killing Hookline ${KILLS} times`);
    const emitStarted = Date.now();
    sweeping = true;
    sweeper = sweepLoop();
    let emitMs = null;
    const emitting = emitAll(account.id).then((ms) => {
      emitMs = ms;
      log(`all ${accepted.size} events accepted after ${round(ms / 1000)}s`);
    });
    const killing = (async () => {
      for (const gap of killGapsMs) {
        await sleep(gap);
        await killAndRestart();
      }
    })();
    await Promise.all([emitting, killing]);
    const chaosMs = Date.now() - emitStarted;

    log("waiting for retries and sweeps to finish");
    const drain_ms = await drain(subs, token);
    sweeping = false;
    await sweeper;
    await settleReceivers(receivers);
    log("reading the log back");
    const collectStarted = Date.now();
    const data = await collect(account.id, token, subs);
    const collectMs = Date.now() - collectStarted;
    const result = analyze(data, subs, receivers);

    report = {
      date: new Date().toISOString(),
      quick: QUICK,
      seed: SEED,
      passed: Object.values(result.checks).every(Boolean),
      duration_s: since(),
      config: {
        events: EVENTS,
        subscriptions: SUBSCRIPTIONS,
        plan: "business",
        retry_schedule: RETRY_SCHEDULE,
        delivery_timeout_ms: DELIVERY_TIMEOUT_MS,
        lease_ms: LEASE_MS,
        shards: SHARDS,
        stall_ms: STALL_MS,
        deactivate_after: DEACTIVATE_AFTER,
        attempts_per_delivery: ATTEMPTS,
        kills_planned: KILLS,
        emit_seconds_planned: SIZES.emitSeconds,
        sweep_every_ms: SIZES.sweepEveryMs,
        shortened: QUICK ? "--quick: RETRY_SCHEDULE 1,2,4 and DELIVERY_TIMEOUT_MS 3000 (stalls 4 s) instead of 1,10,60 and 10000" : null,
      },
      timings_s: {
        first_startup: round(firstStartupMs / 1000),
        emit: round(emitMs / 1000),
        emit_and_kills: round(chaosMs / 1000),
        drain: round(drain_ms / 1000),
        collect: round(collectMs / 1000),
      },
      sweeps_fired_by_script: sweepsFired,
      source_changes: sourceChanges,
      kills,
      emits: emitStats,
      ...result,
    };
  } finally {
    sweeping = false;
    watcher?.close();
    await hookline?.stop().catch((err) => log(`stop failed: ${err.message}`));
    await Promise.all(receivers.map((r) => r.close()));
    if (args.keep || !report?.passed) log(`state kept in ${stateDir}`);
    else rmSync(stateDir, { recursive: true, force: true });
  }

  mkdirSync(OUT, { recursive: true });
  const file = join(OUT, "chaos-latest.json");
  writeFileSync(file, JSON.stringify(report, null, 2) + "\n");
  const p = report.pairs;
  const lines = [
    `chaos ${report.passed ? "PASSED" : "FAILED"} (seed ${SEED}${QUICK ? ", --quick" : ""}) in ${report.duration_s}s`,
    `  events: ${report.events.accepted}/${EVENTS} accepted, ${report.events.stored} stored; emit calls ${report.emits.calls}, retried ${report.emits.retried_calls} (refused ${report.emits.refused}, lost answers ${report.emits.lost_answers}, 5xx ${report.emits.server_errors}); events stored by a request whose answer was lost: ${report.emits.stored_although_answer_lost}`,
    `  kills: ${kills.length} (SIGKILL of the whole group), down ${kills.map((k) => round(k.down_ms / 1000)).join("s, ")}s`,
    `  pairs: ${p.expected} = ${p.received} received + ${p.failed_after_all_attempts} failed after ${ATTEMPTS} attempts + ${p.skipped_after_deactivation} skipped after a deactivation; lost ${p.lost}`,
    `  deliveries: ${JSON.stringify(report.deliveries.by_status)}; attempts ${report.deliveries.attempts} ${JSON.stringify(report.deliveries.attempts_by_outcome)}`,
    `  duplicates at receivers: ${report.duplicates.total} (${report.duplicates.after_a_kill} after a kill, ${report.duplicates.after_a_reload} after a live reload, ${report.duplicates.unexplained} unexplained)`,
    ...(sourceChanges.length ? [`  wrangler dev reloaded: ${sourceChanges.length} changes under src/ during the run (edits by others in this tree), see source_changes`] : []),
    `  deactivated: ${report.subscriptions.filter((s) => !s.active).map((s) => `#${s.index} (longest failure run before: ${s.deactivation.longest_failure_run_before})`).join(", ") || "none"}; active ${report.subscriptions.filter((s) => s.active).length}/${SUBSCRIPTIONS}`,
    `  overlapping attempts: ${report.overlapping_attempts}; concurrent requests at receivers: ${report.concurrent_requests_at_receivers}; invalid signatures: ${report.invalid_signatures}`,
    ...Object.entries(report.checks).filter(([, ok]) => !ok).map(([name]) => `  FAILED: ${name}`),
    `  report: ${file}`,
  ];
  console.log(lines.join("\n"));
  if (!report.passed) {
    for (const v of report.violations.slice(0, 10)) console.error(JSON.stringify(v));
    process.exitCode = 1;
  }
}

await main();
