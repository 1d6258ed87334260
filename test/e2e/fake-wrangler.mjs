#!/usr/bin/env node
/**
 * A stand-in for wrangler 4.86 and the Cloudflare account behind it, for testing
 * `npm run deploy` without an account: WRANGLER=test/e2e/fake-wrangler.mjs.
 *
 * The account lives in the JSON file FAKE_WRANGLER_STATE names (login, accounts, D1 databases,
 * queues, Workers and their secrets, applied migrations, a workers.dev subdomain); every call is
 * appended to its `calls`. Answers copy wrangler 4.86's own (wrangler-dist/cli.js): the same
 * stdout/stderr split, `--json` shapes, error texts and exit codes, for the commands the deploy uses.
 * `fail: { "<command words>": "<API message>" }` turns a command into a Cloudflare API error.
 */
import { randomUUID } from "node:crypto";
import { appendFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

const STATE = process.env.FAKE_WRANGLER_STATE;
if (!STATE) throw new Error("fake wrangler: FAKE_WRANGLER_STATE is not set");
const state = JSON.parse(readFileSync(STATE, "utf8"));
const argv = process.argv.slice(2);
const positional = [];
const flags = {};
for (let i = 0; i < argv.length; i++) {
  const arg = argv[i];
  if (!arg.startsWith("-")) positional.push(arg);
  else if (["--json", "--remote"].includes(arg)) flags[arg] = true;
  else flags[arg === "-c" ? "--config" : arg] = argv[++i];
}
const command = positional.slice(0, positional[0] === "d1" && positional[1] === "migrations" ? 3 : 2).join(" ");
const accountId = process.env.CLOUDFLARE_ACCOUNT_ID ?? state.accounts[0]?.id;
const call = { argv, account: process.env.CLOUDFLARE_ACCOUNT_ID ?? null };
state.calls = [...(state.calls ?? []), call];

class Exit extends Error {}
const out = (text = "") => process.stdout.write(`${text}\n`);
const banner = () => out("\n ⛅️ wrangler 4.86.0\n───────────────────");
/** A UserError as wrangler prints it (stderr), then its exit code 1. */
function fail(message) {
  process.stderr.write(`\n✘ [ERROR] ${message}\n\n\n🪵  Logs were written to "/tmp/fake-wrangler.log"\n`);
  throw new Exit();
}
const apiFail = (path, message) => fail(`A request to the Cloudflare API (/accounts/${accountId}${path}) failed.\n\n  ${message}`);

function requireAuth() {
  if (!state.loggedIn) {
    fail(
      "In a non-interactive environment, it's necessary to set a CLOUDFLARE_API_TOKEN environment variable for wrangler to work. Please go to https://developers.cloudflare.com/fundamentals/api/get-started/create-token/ for instructions on how to create an api token, and assign its value to CLOUDFLARE_API_TOKEN.",
    );
  }
  if (state.accounts.length > 1 && !process.env.CLOUDFLARE_ACCOUNT_ID) {
    fail(
      "More than one account available but unable to select one in non-interactive mode.\n" +
        "Please set the appropriate `account_id` in your Wrangler configuration file or assign it to the `CLOUDFLARE_ACCOUNT_ID` environment variable.\n" +
        "Available accounts are (`<name>`: `<account_id>`):\n" +
        state.accounts.map((a) => `  \`${a.name}\`: \`${a.id}\``).join("\n"),
    );
  }
  if (state.fail?.[command]) apiFail("", state.fail[command]);
}

/** The deploy's generated configuration (JSONC: whole-line comments only). */
function readConfig() {
  const path = resolve(flags["--config"]);
  const text = readFileSync(path, "utf8").replace(/^\s*\/\/.*$/gm, "");
  return { path, config: JSON.parse(text) };
}

const workerFor = (config) => state.workers[config.name];

const handlers = {
  whoami() {
    if (!flags["--json"]) throw new Error("fake wrangler: only `whoami --json` is modelled");
    if (!state.loggedIn) {
      out(JSON.stringify({ loggedIn: false }));
      throw new Exit();
    }
    const accounts = state.accounts.map((a) => ({ ...a, type: "standard", settings: { enforce_twofactor: false }, created_on: "2026-01-05T09:12:44.1Z" }));
    out(JSON.stringify({ loggedIn: true, authType: "OAuth Token", email: state.email, accounts, tokenPermissions: ["account:read", "user:read", "workers:write", "d1:write", "queues:write"] }));
  },
  "d1 list"() {
    requireAuth();
    out(JSON.stringify(state.d1, null, 2));
  },
  "d1 create"() {
    banner();
    requireAuth();
    const name = positional[2];
    if (state.d1.some((db) => db.name === name)) fail("A database with that name already exists");
    const db = { uuid: randomUUID(), name, created_at: new Date().toISOString(), version: "production", num_tables: 0, file_size: 12288, jurisdiction: null };
    state.d1.push(db);
    out(`✅ Successfully created DB '${name}' in region WEUR\nCreated your new D1 database.\n`);
    out("To access your new D1 Database in your Worker, add the following snippet to your configuration file:");
    out(`[[d1_databases]]\nbinding = "${name.replace(/[\s-]/g, "_")}"\ndatabase_name = "${name}"\ndatabase_id = "${db.uuid}"\n`);
  },
  "queues info"() {
    banner();
    requireAuth();
    const queue = state.queues.find((q) => q.queue_name === positional[2]);
    if (!queue) fail(`Queue "${positional[2]}" does not exist. To create it, run: wrangler queues create ${positional[2]}`);
    out(`Queue Name: ${queue.queue_name}\nQueue ID: ${queue.queue_id}\nCreated On: ${queue.created_on}\nLast Modified: ${queue.modified_on}`);
    out(`Number of Producers: ${queue.producers_total_count}\nNumber of Consumers: ${queue.consumers_total_count}`);
  },
  "queues create"() {
    banner();
    requireAuth();
    const name = positional[2];
    out(`🌀 Creating queue '${name}'`);
    // wrangler relays the Queues API's own message for a taken name.
    if (state.queues.some((q) => q.queue_name === name)) apiFail("/queues", "Queue name already taken [code: 11009]");
    const now = new Date().toISOString();
    state.queues.push({ queue_id: randomUUID().replaceAll("-", ""), queue_name: name, created_on: now, modified_on: now, producers_total_count: 0, consumers_total_count: 0 });
    out(`✅ Created queue '${name}'\n\nConfigure your Worker to send messages to this queue:\n\n[[queues.producers]]\nqueue = "${name}"\nbinding = "${name.replace(/-/g, "_")}"\n`);
  },
  "secret list"() {
    requireAuth();
    const { config } = readConfig();
    const worker = workerFor(config);
    if (!worker) {
      fail(
        `Worker "${config.name}" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.\nOtherwise, check that the Worker name is correct and you're logged into the right account.`,
      );
    }
    out(JSON.stringify(Object.keys(worker.secrets).map((name) => ({ name, type: "secret_text" })), null, "  "));
  },
  "d1 migrations apply"() {
    banner();
    if (!flags["--remote"]) throw new Error("fake wrangler: only --remote migrations are modelled");
    const { path, config } = readConfig();
    const name = positional[3];
    const db = config.d1_databases.find((d) => d.database_name === name || d.binding === name);
    if (!db) fail(`Couldn't find a D1 DB with the name or binding '${name}' in your wrangler.deploy.jsonc file.`);
    if (!db.database_id) fail(`Found a database with name or binding ${name} but it is missing a database_id, which is needed for operations on remote resources.`);
    requireAuth();
    if (!state.d1.some((d) => d.uuid === db.database_id)) apiFail(`/d1/database/${db.database_id}/query`, "The requested database was not found [code: 7404]");
    const dir = resolve(dirname(path), db.migrations_dir ?? "migrations");
    // Each database keeps one list per migrations table: "<id>" for d1_migrations, "<id>/<table>" for another.
    const table = db.migrations_table ?? "d1_migrations";
    const applied = (state.applied[table === "d1_migrations" ? db.database_id : `${db.database_id}/${table}`] ??= []);
    const pending = readdirSync(dir).filter((f) => f.endsWith(".sql") && !applied.includes(f)).sort();
    if (pending.length === 0) return out("✅ No migrations to apply!");
    out(`Migrations to be applied:\n${pending.map((f) => `│ ${f} │`).join("\n")}`);
    out(`? About to apply ${pending.length} migration(s)\nYour database may not be available to serve requests during the migration, continue?`);
    out("🤖 Using fallback value in non-interactive context: yes");
    out(`🌀 Executing on remote database ${db.database_name} (${db.database_id}):`);
    applied.push(...pending);
    out(pending.map((f) => `│ ${f} │ ✅ │`).join("\n"));
  },
  deploy() {
    banner();
    const { config } = readConfig();
    requireAuth();
    const outputFile = process.env.WRANGLER_OUTPUT_FILE_PATH;
    const record = (entry) => outputFile && appendFileSync(outputFile, JSON.stringify({ ...entry, timestamp: new Date().toISOString() }) + "\n");
    record({ type: "wrangler-session", version: 1, wrangler_version: "4.86.0", command_line_args: argv, log_file_path: "/tmp/fake-wrangler.log" });
    for (const queue of [...(config.queues?.producers ?? []), ...(config.queues?.consumers ?? [])]) {
      if (!state.queues.some((q) => q.queue_name === queue.queue)) fail(`Queue "${queue.queue}" does not exist. To create it, run: wrangler queues create ${queue.queue}`);
    }
    for (const db of config.d1_databases ?? []) {
      if (!state.d1.some((d) => d.uuid === db.database_id)) {
        fail("You must use a real database in the database_id configuration. You can find your databases using 'wrangler d1 list', or read how to develop locally with D1 here: https://developers.cloudflare.com/d1/configuration/local-development");
      }
    }
    const fileSecrets = flags["--secrets-file"] ? JSON.parse(readFileSync(flags["--secrets-file"], "utf8")) : {};
    call.secretsFile = flags["--secrets-file"] ?? null;
    call.secrets = Object.keys(fileSecrets);
    out("Total Upload: 1410.42 KiB / gzip: 266.03 KiB");
    // The upload creates the Worker with its secrets; a deploy keeps the secrets it does not carry.
    const worker = (state.workers[config.name] ??= { secrets: {}, versions: 0 });
    Object.assign(worker.secrets, fileSecrets);
    worker.versions += 1;
    worker.migrationsAtDeploy = structuredClone(state.applied);
    out(`Uploaded ${config.name} (2.10 sec)`);
    if (!state.subdomain) {
      process.stderr.write("\n▲ [WARNING] You need to register a workers.dev subdomain before publishing to workers.dev\n\n");
      out("? Would you like to register a workers.dev subdomain now?\n🤖 Using fallback value in non-interactive context: no");
      fail(`You can either deploy your worker to one or more routes by specifying them in your wrangler.deploy.jsonc file, or register a workers.dev subdomain here:\nhttps://dash.cloudflare.com/${accountId}/workers/onboarding`);
    }
    const targets = [
      `https://${config.name}.${state.subdomain}.workers.dev`,
      ...(config.triggers?.crons ?? []).map((cron) => `schedule: ${cron}`),
      ...(config.queues?.producers ?? []).map((p) => `Producer for ${p.queue}`),
      ...(config.queues?.consumers ?? []).map((c) => `Consumer for ${c.queue}`),
    ];
    out(`Deployed ${config.name} triggers (0.90 sec)\n${targets.map((t) => `  ${t}`).join("\n")}`);
    const versionId = randomUUID();
    out(`Current Version ID: ${versionId}`);
    record({ type: "deploy", version: 1, worker_name: config.name, worker_tag: "f00d", version_id: versionId, targets, worker_name_overridden: false });
  },
};

let code = 0;
try {
  const handler = handlers[command] ?? handlers[positional[0]];
  if (!handler) throw new Error(`fake wrangler: \`${argv.join(" ")}\` is not modelled`);
  handler();
} catch (err) {
  if (!(err instanceof Exit)) {
    process.stderr.write(`${err.stack}\n`);
    code = 2;
  } else code = 1;
}
call.exit = code;
if (existsSync(STATE)) writeFileSync(STATE, JSON.stringify(state, null, 2));
process.exitCode = code;
