/**
 * Starts Hookline locally: the one launcher behind `npm start`, the end-to-end tests,
 * the benchmark and the chaos test (README "Run it locally").
 *
 *   const hookline = await startHookline({ port, stateDir, vars, quiet });
 *   ...hookline.url...
 *   await hookline.stop();
 *
 * It applies the local D1 migrations (the data folder to every database, then the control folder
 * to shard 0's: scripts/migrations.mjs), runs `wrangler dev` in its own process group,
 * waits for GET /health, and fires the cron sweep itself (`wrangler dev` never fires
 * cron triggers: it only offers /__scheduled under --test-scheduled).
 *
 * Data shards (SHARDS=N, N > 1): wrangler.toml declares shard 0 only (DB, DELIVERY_QUEUE). The
 * launcher writes .wrangler/generated/wrangler.shards.json, wrangler.toml plus shard i = 1..N-1
 * (D1 binding DB_<i> = database hookline-<i>, queue binding DELIVERY_QUEUE_<i> = queue
 * hookline-deliveries-<i> with its consumer) and vars.SHARDS, applies the migrations to every
 * database, and runs `wrangler dev -c` on it. SHARDS=1 runs on wrangler.toml itself, as always.
 *
 * startWorker({ config, port, devRegistry }) runs another Worker (e.g. one that binds to
 * Hookline through a service binding) under the same supervision. Two `wrangler dev`
 * processes find each other through wrangler's local dev registry: give both the same
 * `devRegistry` directory to keep them apart from every other local dev session.
 *
 * Why a supervisor: wrangler leaves workerd children behind when it dies, and a
 * detached group outlives its parent. So `wrangler dev` runs under this same file
 * started with `--supervise`, as the leader of a new process group. The supervisor
 * kills the whole group when wrangler exits, when it is asked to stop, and when the
 * process that launched it dies (its stdin pipe closes), even by SIGKILL.
 */
import { spawn } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { controlMigrationsConfig } from "./migrations.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const SELF = fileURLToPath(import.meta.url);
const WRANGLER = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");

/** The Worker configuration README's "Configuration" table names. */
export const CONFIG_VARS = [
  "ADMIN_TOKEN",
  "SECRETS_KEY",
  "ALLOW_INSECURE_TARGETS",
  "RETRY_SCHEDULE",
  "DEACTIVATE_AFTER",
  "DELIVERY_TIMEOUT_MS",
  "LOG_RETENTION_DAYS",
  "LISTEN_LEASE_SECONDS",
  "PORTAL_FRAME_ANCESTORS",
  "SHARDS",
];

export const DEFAULT_PORT = 8787;
export const DEFAULT_STATE_DIR = join(ROOT, ".wrangler", "state");
export const DEV_VARS = join(ROOT, ".dev.vars");
export const WRANGLER_TOML = join(ROOT, "wrangler.toml");
/** The configuration `wrangler dev -c` runs on when SHARDS > 1 (git-ignored, rewritten on each start). */
export const SHARDS_CONFIG = join(ROOT, ".wrangler", "generated", "wrangler.shards.json");
/** The configuration `d1 migrations apply` runs the control folder with (scripts/migrations.mjs; git-ignored). */
export const CONTROL_CONFIG = join(ROOT, ".wrangler", "generated", "wrangler.control.json");
const MAX_SHARDS = 1000;
const SWEEP_PATH = "/__scheduled?cron=*+*+*+*+*";
const TAIL_LINES = 60;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((res, rej) => {
    const server = createServer();
    server.unref();
    server.on("error", rej);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => res(port));
    });
  });
}

export function isPortFree(port) {
  return new Promise((res) => {
    const server = createServer();
    server.unref();
    server.once("error", () => res(false));
    server.listen(port, "127.0.0.1", () => server.close(() => res(true)));
  });
}

export async function waitForPortFree(port, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await isPortFree(port))) {
    if (Date.now() > deadline) throw new Error(`port ${port} is still in use after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * Live (non-zombie) processes of a process group. On Linux this reads /proc, because
 * an orphaned zombie still answers kill(-pgid, 0); elsewhere it falls back to that.
 */
export function processGroupMembers(pgid) {
  if (process.platform !== "linux") {
    try {
      process.kill(-pgid, 0);
      return [pgid];
    } catch {
      return [];
    }
  }
  const members = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // Fields after "(comm)": state ppid pgrp ...; comm may itself contain spaces or parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    if (Number(pgrp) === pgid && state !== "Z" && state !== "X") members.push(Number(entry));
  }
  return members;
}

function signalGroup(pgid, signal) {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone.
  }
}

async function waitForGroupExit(pgid, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (processGroupMembers(pgid).length > 0) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Creates .dev.vars from .dev.vars.example when it is missing; returns its path. */
export function ensureDevVars() {
  if (!existsSync(DEV_VARS)) copyFileSync(join(ROOT, ".dev.vars.example"), DEV_VARS);
  // It holds the operator token and the secrets key: readable by its owner only.
  chmodSync(DEV_VARS, 0o600);
  return DEV_VARS;
}

function run(args, env) {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [WRANGLER, ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.on("error", rej);
    child.on("exit", (code, signal) =>
      code === 0 ? res(output) : rej(new Error(`wrangler ${args.join(" ")} failed (${signal ?? code}):\n${output}`)),
    );
  });
}

/**
 * Runs `node wrangler.js <args>` under the supervisor, as the leader of a new process
 * group, and keeps the last lines it prints. The handle's stop() ends the whole group.
 */
function superviseWrangler({ args, env, quiet, onStop = () => {} }) {
  const child = spawn(process.execPath, [SELF, "--supervise", process.execPath, WRANGLER, ...args], {
    cwd: ROOT,
    env,
    detached: true, // its own process group (and session): stop() can kill every descendant at once
    stdio: ["pipe", "pipe", "pipe"], // stdin stays open as the supervisor's lifeline to us
  });
  const pid = child.pid;
  const tail = [];
  const keep = (stream, sink) => {
    let partial = "";
    stream.on("data", (chunk) => {
      if (!quiet) sink.write(chunk);
      const lines = (partial + chunk).split("\n");
      partial = lines.pop();
      tail.push(...lines);
      if (tail.length > TAIL_LINES) tail.splice(0, tail.length - TAIL_LINES);
    });
  };
  keep(child.stdout, process.stdout);
  keep(child.stderr, process.stderr);
  child.stdin.on("error", () => {});
  let exitInfo = null;
  const exited = new Promise((res) => child.on("exit", (code, signal) => res((exitInfo = { code, signal }))));
  // Last resort if the caller never stops us; the supervisor also notices our death by itself.
  const killOnExit = () => signalGroup(pid, "SIGKILL");
  process.on("exit", killOnExit);

  let stopping = null;
  const stop = (port) =>
    (stopping ??= (async () => {
      onStop();
      signalGroup(pid, "SIGTERM");
      if (!(await waitForGroupExit(pid, 8_000))) {
        signalGroup(pid, "SIGKILL");
        if (!(await waitForGroupExit(pid, 5_000))) throw new Error(`process group ${pid} survived SIGKILL: ${processGroupMembers(pid)}`);
      }
      process.off("exit", killOnExit);
      await waitForPortFree(port);
    })());

  return {
    pid,
    exited,
    exitInfo: () => exitInfo,
    stopping: () => stopping !== null,
    stop,
    kill: (signal = "SIGKILL") => signalGroup(pid, signal),
    output: () => tail.join("\n"),
  };
}

/**
 * Polls `probe` until it resolves true; stops the group and throws, with wrangler's last
 * lines, if wrangler dies first or the time runs out.
 */
async function waitUntilReady(handle, { port, what, expected = "answer", timeoutMs, probe }) {
  const deadline = Date.now() + timeoutMs;
  let lastError = "no answer yet";
  for (;;) {
    const exitInfo = handle.exitInfo();
    if (exitInfo) {
      await handle.stop(port);
      throw new Error(`wrangler dev exited (${exitInfo.signal ?? exitInfo.code}) before ${what} answered. Last output:\n${handle.output()}`);
    }
    if (Date.now() > deadline) {
      await handle.stop(port);
      throw new Error(`${what} did not ${expected} within ${timeoutMs} ms (last: ${lastError}). Last output of wrangler:\n${handle.output()}`);
    }
    try {
      const outcome = await probe();
      if (outcome === true) return;
      lastError = String(outcome);
    } catch (err) {
      lastError = err.cause?.code ?? err.message;
    }
    await sleep(200);
  }
}

/** SHARDS as a number: an integer from 1 to 1000 ("" and undefined are 1). */
export function parseShards(value) {
  const raw = value === undefined || value === "" ? "1" : String(value).trim();
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isInteger(n) || n < 1 || n > MAX_SHARDS) {
    throw new Error(`SHARDS must be an integer from 1 to ${MAX_SHARDS}, got "${value}"`);
  }
  return n;
}

/** The local id of shard i's database (shard 0's is wrangler.toml's placeholder, all zeros). */
export const shardDatabaseId = (i) => `00000000-0000-0000-0000-${String(i).padStart(12, "0")}`;

/**
 * The wrangler configuration of `shards` data shards: `config` (wrangler.toml as parsed) plus, for
 * each shard i >= 1, the D1 database DB_<i> (`<shard 0's database_name>-<i>`, same migrations), the
 * queue producer DELIVERY_QUEUE_<i> (`<shard 0's queue>-<i>`) and a consumer with shard 0's settings;
 * and vars.SHARDS. Relative paths are rewritten relative to `dir`, where the result is written
 * (wrangler resolves them against the configuration file's directory).
 */
export function shardedConfig(config, shards, { root = ROOT, dir = dirname(SHARDS_CONFIG) } = {}) {
  const n = parseShards(shards);
  const rel = (path) => relative(dir, resolve(root, path)) || ".";
  const db0 = (config.d1_databases ?? []).find((db) => db.binding === "DB");
  const producer0 = (config.queues?.producers ?? []).find((p) => p.binding === "DELIVERY_QUEUE");
  const consumer0 = producer0 && (config.queues?.consumers ?? []).find((c) => c.queue === producer0.queue);
  if (!db0?.database_name) throw new Error("wrangler.toml has no D1 database with binding DB (shard 0)");
  if (!producer0?.queue) throw new Error("wrangler.toml has no queue producer with binding DELIVERY_QUEUE (shard 0)");
  if (!consumer0) throw new Error(`wrangler.toml has no consumer of ${producer0.queue} (shard 0)`);

  // Shards >= 1 are generated: entries of theirs already in wrangler.toml give way.
  const shardBinding = (prefix, name) => new RegExp(`^${prefix}_\\d+$`).test(name ?? "");
  const shardQueue = (queue) => queue !== producer0.queue && queue?.startsWith(`${producer0.queue}-`) && /-\d+$/.test(queue);
  const d1 = (config.d1_databases ?? []).filter((db) => !shardBinding("DB", db.binding));
  const producers = config.queues.producers.filter((p) => !shardBinding("DELIVERY_QUEUE", p.binding));
  const consumers = (config.queues.consumers ?? []).filter((c) => !shardQueue(c.queue));
  for (let i = 1; i < n; i++) {
    d1.push({ ...db0, binding: `DB_${i}`, database_name: `${db0.database_name}-${i}`, database_id: shardDatabaseId(i) });
    delete d1.at(-1).preview_database_id;
    producers.push({ ...producer0, binding: `DELIVERY_QUEUE_${i}`, queue: `${producer0.queue}-${i}` });
    consumers.push({ ...consumer0, queue: `${producer0.queue}-${i}` });
  }

  const out = {
    ...config,
    main: config.main === undefined ? undefined : rel(config.main),
    d1_databases: d1.map((db) => ({ ...db, migrations_dir: rel(db.migrations_dir ?? "migrations/data") })),
    queues: { ...config.queues, producers, consumers },
    vars: { ...config.vars, SHARDS: String(n) },
  };
  if (config.assets?.directory !== undefined) out.assets = { ...config.assets, directory: rel(config.assets.directory) };
  if (config.build) {
    // watch_dir is joined to the configuration's directory; a custom build runs in build.cwd, else wrangler's cwd.
    const watch = config.build.watch_dir ?? "./src";
    out.build = {
      ...config.build,
      cwd: resolve(root, config.build.cwd ?? "."),
      watch_dir: Array.isArray(watch) ? watch.map(rel) : rel(watch),
    };
  }
  if (config.tsconfig !== undefined) out.tsconfig = rel(config.tsconfig);
  if (config.base_dir !== undefined) out.base_dir = rel(config.base_dir);
  return out;
}

/**
 * A wrangler configuration file as wrangler itself parses it (scripts/deploy/resources.mjs), read in
 * a child process: importing wrangler installs SIGINT and SIGTERM handlers of its own, which would
 * end the launcher's process before it stops its wrangler.
 */
async function readConfig(path) {
  const json = await new Promise((res, rej) => {
    const child = spawn(process.execPath, [SELF, "--read-config", path], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("error", rej);
    child.on("exit", (code, signal) => (code === 0 ? res(stdout) : rej(new Error(`could not read ${path} (${signal ?? code}):\n${stderr}`))));
  });
  return JSON.parse(json);
}

/** Writes `config` to `path`, only when it changes (a running `wrangler dev` on it would reload). */
function writeGenerated(path, config) {
  const text = JSON.stringify(config, null, 2) + "\n";
  mkdirSync(dirname(path), { recursive: true });
  if (!existsSync(path) || readFileSync(path, "utf8") !== text) {
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  }
}

/**
 * Writes the configuration of `shards` data shards to SHARDS_CONFIG (when shards > 1) and the one
 * that applies the control migrations to CONTROL_CONFIG, and returns their paths and the
 * databases, shard 0's first.
 */
export async function writeShardsConfig(shards) {
  const config = shardedConfig(await readConfig(WRANGLER_TOML), shards);
  if (shards > 1) writeGenerated(SHARDS_CONFIG, config);
  writeGenerated(CONTROL_CONFIG, controlMigrationsConfig(config, { root: ROOT, dir: dirname(CONTROL_CONFIG) }));
  return { path: shards > 1 ? SHARDS_CONFIG : WRANGLER_TOML, control: CONTROL_CONFIG, databases: config.d1_databases.map((db) => db.database_name) };
}

/**
 * The environment of every wrangler the launcher runs. `inspector: false` runs it without the
 * devtools inspector. wrangler dev has no flag for that; it leaves the inspector out when
 * VSCODE_INSPECTOR_OPTIONS is set (VS Code's debugger then attaches itself, through a
 * bootloader in NODE_OPTIONS, which is not there). With the inspector attached, a 20-way fan-out
 * of 8,000 deliveries left the Worker's workerd holding 16,000-18,000 open files, nearly all
 * connections to wrangler's own process (the limit here is 20,000: past it, "Too many open
 * files" and requests that never answer), and ran at a third of the speed it reaches without
 * (about 500 against 1,500 deliveries/s, same machine, same commit).
 */
function wranglerEnv(devRegistry, { inspector = true } = {}) {
  // CI=true: no prompts (migrations apply asks to confirm otherwise). The machines are offline:
  // no telemetry, and no download of the Request.cf placeholder (3 s lost to each failed try).
  const env = {
    ...process.env,
    CI: "true",
    WRANGLER_SEND_METRICS: "false",
    CLOUDFLARE_CF_FETCH_ENABLED: process.env.CLOUDFLARE_CF_FETCH_ENABLED ?? "false",
  };
  if (devRegistry !== undefined) {
    mkdirSync(resolve(devRegistry), { recursive: true });
    env.WRANGLER_REGISTRY_PATH = resolve(devRegistry);
  }
  if (!inspector) env.VSCODE_INSPECTOR_OPTIONS = "{}";
  return env;
}

/**
 * Starts Hookline and resolves once GET /health answers 200.
 *
 * @param {object} [options]
 * @param {number} [options.port] default PORT or 8787
 * @param {string} [options.stateDir] local D1/Queues/DO state; default STATE_DIR or .wrangler/state
 * @param {Record<string, string | number | boolean>} [options.vars] Worker vars, passed as --var; they win over the shell's
 * @param {boolean} [options.devVars] read .dev.vars (created from .dev.vars.example when missing). Default: true when
 *   no `vars` are given (npm start), false when they are (tests, bench: hermetic, .dev.vars is ignored)
 * @param {boolean} [options.inheritEnv] pass the configuration variables set in the shell (default true)
 * @param {boolean} [options.quiet] keep wrangler's output to ourselves (it is still shown when startup fails)
 * @param {number} [options.sweepIntervalMs] how often to fire the cron sweep (default 60000; 0 turns it off)
 * @param {number} [options.readyTimeoutMs] how long to wait for /health (default 60000)
 * @param {string} [options.devRegistry] wrangler's local dev registry directory (WRANGLER_REGISTRY_PATH), where
 *   other local Workers find Hookline for their service bindings; default: the shell's, else wrangler's own
 * @param {number} [options.shards] data shards; default vars.SHARDS, else the shell's SHARDS (when inheritEnv), else 1.
 *   Above 1 it runs on a generated configuration (SHARDS_CONFIG) with a database and a queue per shard
 * @param {boolean} [options.inspector] the devtools inspector (default true; the bench turns it off, see wranglerEnv)
 */
export async function startHookline(options = {}) {
  const {
    port = Number(process.env.PORT || DEFAULT_PORT),
    stateDir: stateDirOption = process.env.STATE_DIR || DEFAULT_STATE_DIR,
    vars,
    devVars = vars === undefined,
    inheritEnv = true,
    quiet = false,
    sweepIntervalMs = 60_000,
    readyTimeoutMs = 60_000,
    devRegistry,
    inspector = true,
  } = options;
  const shards = parseShards(options.shards ?? vars?.SHARDS ?? (inheritEnv ? process.env.SHARDS : undefined));
  const stateDir = resolve(stateDirOption);
  const url = `http://127.0.0.1:${port}`;
  const log = (line) => quiet || console.log(`[launcher] ${line}`);

  if (!(await isPortFree(port))) throw new Error(`port ${port} on 127.0.0.1 is already in use (is Hookline already running?)`);
  mkdirSync(stateDir, { recursive: true });

  const passed = {};
  if (inheritEnv) for (const name of CONFIG_VARS) if (process.env[name] !== undefined) passed[name] = process.env[name];
  for (const [name, value] of Object.entries(vars ?? {})) if (value !== undefined) passed[name] = String(value);
  // The generated configuration carries SHARDS (as a plain var) with the bindings made for it.
  if (shards > 1) delete passed.SHARDS;

  const env = wranglerEnv(devRegistry, { inspector });

  const envFileArgs = [];
  if (devVars) {
    ensureDevVars();
    // wrangler reads the .dev.vars beside its configuration: a generated one's is elsewhere.
    if (shards > 1) envFileArgs.push("--env-file", DEV_VARS);
  } else {
    // With an --env-file wrangler skips .dev.vars; an empty one loads nothing.
    const empty = join(stateDir, "launcher-empty.env");
    writeFileSync(empty, "");
    envFileArgs.push("--env-file", empty);
  }

  const started = Date.now();
  // Every database gets the data folder, one after another (~3-4 s each: parallel runs on one state
  // directory were barely faster on two cores, and 2 of 18 tries lost a run to workerd's "database
  // is locked", SQLITE_BUSY); then shard 0's, the control database, gets the control folder.
  // On one shard the data folder runs on wrangler.toml itself, while the generated configurations
  // are written (reading wrangler.toml the way wrangler does takes about a second).
  const writing = writeShardsConfig(shards);
  if (shards === 1) await Promise.all([writing, run(["d1", "migrations", "apply", "hookline", "--local", "--persist-to", stateDir], env)]);
  const generated = await writing;
  const configArgs = shards > 1 ? ["--config", generated.path] : [];
  for (const name of shards > 1 ? generated.databases : []) {
    await run(["d1", "migrations", "apply", name, "--local", "--persist-to", stateDir, ...configArgs], env);
  }
  await run(["d1", "migrations", "apply", generated.databases[0], "--local", "--persist-to", stateDir, "--config", generated.control], env);
  const where = shards > 1 ? `${shards} shards (${relative(ROOT, generated.path)}): ` : "";
  log(`${where}migrations applied to ${generated.databases.join(", ")} and the control migrations to ${generated.databases[0]} in ${Date.now() - started} ms`);

  const devArgs = [
    "dev",
    ...configArgs,
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--persist-to", stateDir,
    "--test-scheduled",
    "--show-interactive-dev-session=false",
    ...envFileArgs,
    ...Object.entries(passed).map(([name, value]) => `--var=${name}:${value}`),
    // For profiling and the like: more `wrangler dev` arguments, e.g. LAUNCHER_DEV_ARGS="--inspector-port 9339".
    ...(process.env.LAUNCHER_DEV_ARGS ?? "").split(" ").filter(Boolean),
  ];
  let sweepTimer = null;
  const wrangler = superviseWrangler({ args: devArgs, env, quiet, onStop: () => clearInterval(sweepTimer) });
  const { pid, exited, output } = wrangler;
  const stop = () => wrangler.stop(port);

  // Wait for /health; fail early if wrangler dies, with its last lines.
  await waitUntilReady(wrangler, {
    port,
    what: `${url}/health`,
    expected: "answer 200",
    timeoutMs: readyTimeoutMs,
    probe: async () => {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
      const text = await res.text();
      return res.status === 200 || `${res.status} ${text.slice(0, 300)}`;
    },
  });
  const startupMs = Date.now() - started;
  log(`ready on ${url} in ${startupMs} ms (state in ${stateDir})`);

  let sweeping = false;
  /** Fires the cron handler once, as the platform would every minute. Resolves to the HTTP status. */
  const sweep = async () => {
    const res = await fetch(url + SWEEP_PATH, { signal: AbortSignal.timeout(30_000) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`sweep answered ${res.status}: ${text.slice(0, 500)}`);
    return res.status;
  };
  if (sweepIntervalMs > 0) {
    sweepTimer = setInterval(async () => {
      if (sweeping || wrangler.exitInfo() || wrangler.stopping()) return;
      sweeping = true;
      try {
        await sweep();
      } catch (err) {
        if (!wrangler.exitInfo() && !wrangler.stopping()) log(`sweep failed: ${err.message}`);
      } finally {
        sweeping = false;
      }
    }, sweepIntervalMs);
    sweepTimer.unref();
  }

  return {
    url,
    port,
    pid, // the process group id: the supervisor, wrangler and every workerd
    stateDir,
    startupMs,
    shards,
    /** The configuration wrangler runs on: wrangler.toml, or the generated one when shards > 1. */
    config: shards > 1 ? SHARDS_CONFIG : WRANGLER_TOML,
    /** Stops the whole process group, waits until the port is free, stops the sweep. Idempotent. */
    stop,
    /** Sends a signal to the whole group at once (chaos: SIGKILL for a crash, SIGSTOP/SIGCONT for a hang). */
    kill: wrangler.kill,
    sweep,
    /** Resolves with { code, signal } when the supervisor exits. */
    exited,
    /** The last lines wrangler printed. */
    output,
  };
}

/**
 * Starts another Worker with `wrangler dev -c <config>` under the same supervision as
 * Hookline (own process group, stopped as a whole, nothing left behind), and resolves
 * once it answers. For a Worker with a service binding to Hookline, pass the same
 * `devRegistry` as to startHookline, and start Hookline first.
 *
 * @param {object} options
 * @param {string} options.config its wrangler.toml (relative to the current directory or absolute)
 * @param {number} [options.port] default: a free port
 * @param {string} [options.stateDir] its local state (--persist-to); default: a fresh temporary directory, deleted by stop()
 * @param {Record<string, string | number | boolean>} [options.vars] Worker vars, passed as --var
 * @param {boolean} [options.devVars] read the .dev.vars beside its config (default false: an empty --env-file)
 * @param {string} [options.devRegistry] wrangler's local dev registry directory (WRANGLER_REGISTRY_PATH)
 * @param {string[]} [options.args] more arguments for `wrangler dev`
 * @param {boolean} [options.quiet] keep wrangler's output to ourselves (it is still shown when startup fails)
 * @param {string} [options.readyPath] polled with GET until any HTTP answer (default "/")
 * @param {(url: string) => Promise<boolean | string>} [options.ready] a probe instead: ready once it resolves true
 * @param {number} [options.readyTimeoutMs] default 60000
 * @param {boolean} [options.inspector] the devtools inspector (default true; see wranglerEnv)
 */
export async function startWorker(options) {
  const {
    config,
    vars,
    devVars = false,
    devRegistry,
    args = [],
    quiet = false,
    readyPath = "/",
    ready,
    readyTimeoutMs = 60_000,
  } = options ?? {};
  if (!config) throw new Error("startWorker: `config` (a wrangler.toml) is required");
  const configPath = resolve(config);
  if (!existsSync(configPath)) throw new Error(`startWorker: ${configPath} does not exist`);
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  if (!(await isPortFree(port))) throw new Error(`port ${port} on 127.0.0.1 is already in use`);

  const ownsStateDir = options.stateDir === undefined;
  const stateDir = ownsStateDir ? mkdtempSync(join(tmpdir(), "launcher-worker-")) : resolve(options.stateDir);
  mkdirSync(stateDir, { recursive: true });
  const cleanUp = () => ownsStateDir && rmSync(stateDir, { recursive: true, force: true });

  const envFileArgs = [];
  if (!devVars) {
    const empty = join(stateDir, "launcher-empty.env");
    writeFileSync(empty, "");
    envFileArgs.push("--env-file", empty);
  }
  const devArgs = [
    "dev",
    "--config", configPath,
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--persist-to", stateDir,
    "--show-interactive-dev-session=false",
    ...envFileArgs,
    ...Object.entries(vars ?? {})
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `--var=${name}:${value}`),
    ...args,
  ];

  const started = Date.now();
  const wrangler = superviseWrangler({ args: devArgs, env: wranglerEnv(devRegistry, { inspector: options.inspector }), quiet });
  let stopping = null;
  const stop = () =>
    (stopping ??= (async () => {
      try {
        await wrangler.stop(port);
      } finally {
        cleanUp();
      }
    })());
  const probe =
    ready ??
    (async () => {
      const res = await fetch(url + readyPath, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return true;
    });
  try {
    await waitUntilReady(wrangler, {
      port,
      what: `${url} (${config})`,
      expected: ready ? "pass its readiness probe" : `answer GET ${readyPath}`,
      timeoutMs: readyTimeoutMs,
      probe: () => probe(url),
    });
  } catch (err) {
    cleanUp();
    throw err;
  }
  const startupMs = Date.now() - started;
  if (!quiet) console.log(`[launcher] ${config} ready on ${url} in ${startupMs} ms`);

  return {
    url,
    port,
    pid: wrangler.pid,
    stateDir,
    startupMs,
    stop,
    kill: wrangler.kill,
    exited: wrangler.exited,
    output: wrangler.output,
  };
}

/**
 * `node launcher.mjs --supervise <command...>`: runs as the group leader started by
 * startHookline or startWorker, and makes sure nothing of the group outlives wrangler or the launcher.
 */
function supervise(command, args) {
  const pgid = process.pid;
  const child = spawn(command, args, { stdio: ["ignore", "inherit", "inherit"] });
  let shuttingDown = false;
  const shutdown = (signalTheGroup) => {
    if (shuttingDown) return;
    shuttingDown = true;
    if (signalTheGroup) signalGroup(pgid, "SIGTERM");
    setTimeout(() => signalGroup(pgid, "SIGKILL"), 5_000).unref();
  };
  // A signal sent to the group has reached wrangler and workerd too: let wrangler finish,
  // then sweep up what it leaves behind (below, on its exit).
  for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(signal, () => shutdown(false));
  // Our stdin is a pipe from the launcher: it closes when the launcher dies, however it dies.
  process.stdin.on("end", () => shutdown(true));
  process.stdin.on("error", () => shutdown(true));
  process.stdin.resume();
  child.on("exit", (code, signal) => {
    if (!shuttingDown) console.error(`[launcher] wrangler exited (${signal ?? code})`);
    signalGroup(pgid, "SIGKILL"); // workerd children that wrangler left behind, and ourselves
  });
}

if (process.argv[1] === SELF && process.argv[2] === "--supervise") {
  supervise(process.argv[3], process.argv.slice(4));
}

// `node launcher.mjs --read-config <wrangler.toml>`: prints the configuration as JSON (for readConfig).
if (process.argv[1] === SELF && process.argv[2] === "--read-config") {
  const { readWranglerConfig } = await import("./deploy/resources.mjs");
  process.stdout.write(JSON.stringify(await readWranglerConfig(process.argv[3])));
}
