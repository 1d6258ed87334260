// Hookline's side of each scenario, with what its metrics mode counted for the run.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startHookline } from "../launcher.mjs";
import { call, Errors, log, paced, padding, pool, summarize } from "./util.mjs";

const ADMIN = "bench-admin-token";
const HOUR_MS = 60 * 60 * 1000;
const DAY_MS = 24 * HOUR_MS;
const RETENTION_DAYS = 30;
const METRICS_DEADLINE_MS = 120_000;

/**
 * `shards` > 1 starts it with that many data shards (SHARDS), for scenario (d) alone. Either way it
 * has sizes.dAccounts accounts for (d), one subscription each, spread over the shards as the
 * service places them: (d) on one shard ("d1") is the same work without sharding.
 */
export async function startHooklineSide(receiver, sizes, { shards = 1 } = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), "hookline-bench-"));
  const options = {
    port: await freePort(),
    stateDir,
    vars: {
      ADMIN_TOKEN: ADMIN,
      SECRETS_KEY: "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=",
      ALLOW_INSECURE_TARGETS: "true",
      LOG_RETENTION_DAYS: String(RETENTION_DAYS),
      METRICS: "1",
      ...(shards > 1 ? { SHARDS: String(shards) } : {}),
    },
    devVars: false,
    inheritEnv: false,
    quiet: process.env.BENCH_VERBOSE !== "1",
    // The bench fires the sweep itself, once per scenario, as the purge (below).
    sweepIntervalMs: 0,
    // Without the devtools inspector, as in production (launcher.mjs wranglerEnv); so is the baseline.
    inspector: false,
  };
  let hookline = await startHookline(options);
  const api = (method, path, body, token = ADMIN, deadlineMs = sizes.callDeadlineMs) =>
    call(hookline.url + path, { method, body, headers: { authorization: `Bearer ${token}` }, deadlineMs });
  /**
   * The counters, reset. Not a call a user makes, so it has a longer deadline than emits: a read
   * that outlived the emits' 30 s once made a whole (b) run uncounted though every delivery had
   * arrived. How long a slow one took is logged, so the stall still shows.
   */
  const metrics = async () => {
    const started = Date.now();
    try {
      return await api("GET", "/__metrics?reset=1", undefined, ADMIN, METRICS_DEADLINE_MS);
    } finally {
      const took = Date.now() - started;
      if (took > 5_000) log(`reading the metrics took ${(took / 1000).toFixed(1)} s`);
    }
  };

  const accounts = {};
  const dAccounts = [];
  try {
    await api("POST", "/v1/event-types", { name: "bench.tick", description: "benchmark event" });
    // Scenario (d): many accounts over the shards; each subscription's path names its account, so the
    // receiver sees any delivery that crossed to another account's endpoint.
    for (let i = 0; i < (sizes.dAccounts ?? 0); i++) {
      const acct = await api("POST", "/v1/accounts", { name: `bench-d-${i}`, plan: "business" });
      const path = `/hookline/d/${i}`;
      const sub = await api("POST", "/v1/subscriptions", { url: receiver.url + path, event_types: ["bench.tick"] }, acct.api_key.key);
      receiver.secrets.set(path, sub.secret);
      dAccounts.push({ id: acct.id, shard: acct.shard });
    }
    for (const [name, subs] of shards > 1 ? [] : [["a", 1], ["b", sizes.bSubs], ["c", 1]]) {
      const acct = await api("POST", "/v1/accounts", { name: `bench-${name}`, plan: "business" });
      for (let i = 0; i < subs; i++) {
        const path = `/hookline/${name}/${i}`;
        const sub = await api("POST", "/v1/subscriptions", { url: receiver.url + path, event_types: ["bench.tick"] }, acct.api_key.key);
        receiver.secrets.set(path, sub.secret);
      }
      accounts[name] = acct.id;
    }
    await metrics(); // setup's own use is not a scenario's
  } catch (err) {
    await stop();
    throw err;
  }
  const event = (scenario, run, seq) => ({ account_id: accounts[scenario], type: "bench.tick", data: { run, seq, sentAt: Date.now(), pad: padding() } });
  const emit = (body) => api("POST", "/v1/events", body);

  /** Runs one scenario and reads back what it cost; D1's size is read before and after. */
  async function measured(scenario, rep, expected, events, drive) {
    const run = `hookline-${scenario}-${rep}`;
    const errors = new Errors();
    const before = await metrics().catch((err) => (errors.add(err), null));
    const started = Date.now();
    const emitCalls = await drive(run, errors);
    const acceptedEnd = Date.now();
    const received = await receiver.waitFor(run, expected, sizes.wait(expected));
    const counted = await metrics().catch((err) => (errors.add(err), null));
    const summary = summarize({ side: "hookline", scenario, rep, events, expected, started, acceptedEnd, received, errors });
    const grew = before && counted ? counted.d1.sizeAfter - before.d1.sizeAfter : null;
    return { ...summary, emit_calls: emitCalls, counted, d1_bytes_grown: grew };
  }

  const scenarios = {
    d: (rep) =>
      measured(shards > 1 ? "d" : "d1", rep, sizes.d, sizes.d, async (run, errors) => {
        const dEvent = (i) => ({ account_id: dAccounts[i % dAccounts.length].id, type: "bench.tick", data: { run, seq: i, account: i % dAccounts.length, sentAt: Date.now(), pad: padding() } });
        await pool([...Array(sizes.d).keys()], sizes.concurrency, (i) => emit(dEvent(i)), errors);
        return sizes.d;
      }),
    a: (rep) =>
      measured("a", rep, sizes.a, sizes.a, async (run, errors) => {
        await pool([...Array(sizes.a).keys()], sizes.concurrency, (i) => emit(event("a", run, i)), errors);
        return sizes.a;
      }),
    b: (rep) =>
      measured("b", rep, sizes.bEvents * sizes.bSubs, sizes.bEvents, async (run, errors) => {
        const calls = [...Array(sizes.bEvents / sizes.bBatch).keys()];
        const batch = (k) => ({ events: [...Array(sizes.bBatch).keys()].map((j) => event("b", run, k * sizes.bBatch + j)) });
        await pool(calls, sizes.bConcurrency, (k) => emit(batch(k)), errors);
        return calls.length;
      }),
    c: (rep) =>
      measured("c", rep, sizes.cRate * sizes.cSeconds, sizes.cRate * sizes.cSeconds, async (run, errors) => {
        await paced(sizes.cRate * sizes.cSeconds, sizes.cRate, (i) => emit(event("c", run, i)), errors);
        return sizes.cRate * sizes.cSeconds;
      }),
  };

  /**
   * The cron purge over every row so far, billed like any other write: metrics mode sets the
   * sweep's clock to an hour boundary more than LOG_RETENTION_DAYS ahead, so the whole log is past
   * retention and the hourly purge is due; then the sweep is fired as the cron would, until it finds
   * nothing. (wrangler dev's /__scheduled passes no time of its own.)
   */
  async function purge() {
    const time = Math.ceil((Date.now() + (RETENTION_DAYS + 1) * DAY_MS) / HOUR_MS) * HOUR_MS;
    const errors = new Errors();
    const totals = { invocations: 0, roundTrips: 0, statements: 0, rowsRead: 0, rowsWritten: 0 };
    await api("GET", `/__metrics?reset=1&sweep_at=${time}`).catch((err) => errors.add(err));
    for (let i = 0; i < 5; i++) {
      try {
        await call(`${hookline.url}/__scheduled?cron=*+*+*+*+*`, { deadlineMs: 60_000, expect: (s) => s === 200 });
        const c = (await metrics()).d1ByHandler.scheduled;
        totals.invocations++;
        for (const k of ["roundTrips", "statements", "rowsRead", "rowsWritten"]) totals[k] += c[k];
        if (c.rowsWritten === 0) break;
      } catch (err) {
        errors.add(err);
        break;
      }
    }
    log(`purge: ${totals.rowsWritten} rows written in ${totals.invocations} sweeps`);
    return { ...totals, errors: errors.toJSON() };
  }

  /**
   * Stops the local service and starts it again on the same state: each scenario (and each (b)
   * run) starts on a fresh one, so that nothing one run leaves behind in wrangler's processes
   * (memory, open files; see launcher.mjs wranglerEnv for what the inspector did) weighs on the
   * next. The /health call touches every database, so metrics mode knows their sizes when the
   * run's first metrics read (which also resets the counters) takes them.
   */
  async function restart() {
    await hookline.stop();
    // On a new port: the client's pooled keep-alive sockets to the old process are not reused.
    hookline = await startHookline({ ...options, port: await freePort() });
    await api("GET", "/health");
  }

  async function stop() {
    await hookline.stop();
    rmSync(stateDir, { recursive: true, force: true });
  }

  return { scenarios, purge, restart, stop, stateDir, dAccounts };
}
