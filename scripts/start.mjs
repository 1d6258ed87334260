#!/usr/bin/env node
// `npm start`: Hookline on 127.0.0.1:8787 (PORT overrides), state in .wrangler/state
// (STATE_DIR overrides), configuration from .dev.vars plus any configuration variable (README "Configuration") set
// in the shell; SHARDS=<n> runs n data shards (a D1 database and a queue each). Runs until Ctrl-C
// or SIGTERM, then stops wrangler and every workerd.
import { relative } from "node:path";
import { DEV_VARS, startHookline } from "./launcher.mjs";

let hookline;
try {
  hookline = await startHookline();
} catch (err) {
  console.error(`\nHookline did not start: ${err.message}`);
  process.exit(1);
}

const here = (path) => relative(process.cwd(), path) || path;
const shards =
  hookline.shards === 1
    ? "1 (SHARDS=<n> npm start for more)"
    : `${hookline.shards} (D1 databases hookline, hookline-1${hookline.shards > 2 ? ` ... hookline-${hookline.shards - 1}` : ""}; configuration ${here(hookline.config)})`;
const token =
  process.env.ADMIN_TOKEN !== undefined ? "the ADMIN_TOKEN variable of your shell" : `ADMIN_TOKEN in ${here(DEV_VARS)} (readable by you only)`;
console.log(`
Hookline is ready on ${hookline.url} (started in ${(hookline.startupMs / 1000).toFixed(1)} s)
  API:             ${hookline.url}/v1/...   (OpenAPI document: ${hookline.url}/openapi.json)
  API docs:        ${hookline.url}/docs/
  dashboard:       ${hookline.url}/dashboard (sign in with an account's API key)
  health:          ${hookline.url}/health
  operator token:  ${token}; send it as Authorization: Bearer <token>
  local state:     ${here(hookline.stateDir)} (D1, queues and Durable Objects; delete it to start afresh)
  data shards:     ${shards}
  cron sweep:      fired every minute through /__scheduled
Press Ctrl-C to stop.
`);

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping Hookline...`);
  try {
    await hookline.stop();
    console.log("stopped.");
    process.exit(0);
  } catch (err) {
    console.error(`could not stop cleanly: ${err.message}`);
    process.exit(1);
  }
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(signal, () => shutdown(signal));

// `kill <npm pid>`: npm passes SIGTERM to the `sh -c` it runs us in, which dies without
// passing it on. Under npm, losing our parent therefore means we were asked to stop.
if (process.env.npm_lifecycle_event) {
  const parent = process.ppid;
  setInterval(() => process.ppid !== parent && shutdown("parent exited"), 500).unref();
}

// If wrangler dies on its own, say so and leave with an error.
hookline.exited.then(async ({ code, signal }) => {
  if (stopping) return;
  console.error(`\nwrangler dev exited unexpectedly (${signal ?? code}).`);
  await hookline.stop().catch(() => {});
  process.exit(1);
});
