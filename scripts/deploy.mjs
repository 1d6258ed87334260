/**
 * `npm run deploy`: Hookline on Cloudflare in one command, safe to run again.
 *
 *   1. wrangler whoami: logged in, and which account (CLOUDFLARE_ACCOUNT_ID when several)
 *   2. the D1 databases and queues wrangler.toml names: reused by name, created when missing
 *   3. wrangler.deploy.jsonc (git-ignored): wrangler.toml with the real database ids
 *   4. the Worker's secrets: ADMIN_TOKEN and SECRETS_KEY generated only when not set yet
 *   5. remote D1 migrations, before the new code goes live: the data folder on every database,
 *      then the control folder on DB's (wrangler.deploy.control.jsonc; scripts/migrations.mjs)
 *   6. wrangler deploy -c wrangler.deploy.jsonc, with the new secrets in the same upload
 *   7. the URL, the new admin token (once) and the next three commands
 *
 * WRANGLER names another wrangler to run (the tests' fake; see scripts/deploy/wrangler.mjs).
 */
import { Command } from "commander";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chooseAccount, whoami } from "./deploy/account.mjs";
import { d1Names, ensureD1, ensureQueues, queueNames, readWranglerConfig, writeDeployConfig } from "./deploy/resources.mjs";
import { missingSecrets, secretsFile, workerSecrets } from "./deploy/secrets.mjs";
import { DeployError, wrangler } from "./deploy/wrangler.mjs";
import { controlMigrationsConfig } from "./migrations.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const GENERATED = "wrangler.deploy.jsonc";
/** The same with DB's migrations folder and table set to the control ones. */
const GENERATED_CONTROL = "wrangler.deploy.control.jsonc";

const step = (text) => console.log(`\n==> ${text}`);
const log = (text) => console.log(`    ${text}`);

/** The Worker's public URL, from the deploy record wrangler writes to WRANGLER_OUTPUT_FILE_PATH. */
function deployTargets(outputFile) {
  let lines = [];
  try {
    lines = readFileSync(outputFile, "utf8").split("\n").filter(Boolean);
  } catch {
    return [];
  }
  const entries = lines.flatMap((line) => {
    try {
      return [JSON.parse(line)];
    } catch {
      return [];
    }
  });
  return entries.findLast((entry) => entry.type === "deploy")?.targets ?? [];
}

/**
 * What a failed deploy did to the secrets. wrangler uploads the Worker, secrets included, before
 * it publishes the triggers (workers.dev, cron, queues), so a failure there leaves them set: then
 * the new ADMIN_TOKEN must be shown now, as no later run can read it back.
 */
async function afterFailure(fresh, ctx) {
  if (Object.keys(fresh).length === 0) return "";
  let now;
  try {
    now = (await workerSecrets(ctx)).names;
  } catch {
    return fresh.ADMIN_TOKEN ? `\nIf the Worker was uploaded before the failure, its new ADMIN_TOKEN is ${fresh.ADMIN_TOKEN}` : "";
  }
  const set = Object.keys(fresh).filter((name) => now.includes(name));
  if (set.length === 0) return "\nNo secret was set; the next run generates them again.";
  const token = fresh.ADMIN_TOKEN && set.includes("ADMIN_TOKEN") ? `\nADMIN_TOKEN (the operator token; shown this once, keep it): ${fresh.ADMIN_TOKEN}` : "";
  return `\nThe upload went through before the failure: ${set.join(" and ")} ${set.length > 1 ? "are" : "is"} set and will be kept.${token}`;
}

function nextSteps(url, adminToken) {
  const token = adminToken ?? "$ADMIN_TOKEN";
  const open = process.platform === "darwin" ? "open" : process.platform === "win32" ? "start" : "xdg-open";
  return [
    "Next:",
    "  # 1. create an account (its API key is in the answer, shown once: api_key.key)",
    `  curl -s -X POST ${url}/v1/accounts -H "Authorization: Bearer ${token}" \\`,
    `    -H "Content-Type: application/json" -d '{"name": "yourname", "email": "you@example.com"}'`,
    "  # 2. log the CLI in with that key",
    `  npx hookline login --url ${url} --api-key <api_key.key>`,
    "  # 3. open the dashboard and sign in with the same key",
    `  ${open} ${url}/dashboard`,
  ].join("\n");
}

async function deploy({ config: configOption }) {
  const config = resolve(configOption);
  const configDir = dirname(config);
  const generated = join(configDir, GENERATED);
  const shown = (path) => relative(process.cwd(), path) || path;

  step("Cloudflare login (wrangler whoami)");
  const env = { ...process.env };
  // Reading the configuration loads wrangler's own parser (a second or so): overlap it with whoami.
  const [raw, who] = await Promise.all([readWranglerConfig(config), whoami(env)]);
  const account = chooseAccount(who, { env, configAccountId: raw.account_id });
  // Every later wrangler call acts on this account, whatever wrangler cached from an earlier session.
  env.CLOUDFLARE_ACCOUNT_ID = account.id;
  log(`account ${account.name ? `${account.name} ` : ""}(${account.id})${account.email ? `, as ${account.email}` : ""}`);

  const ctx = { env, cwd: configDir, config, log };
  step(`D1 databases and queues named in ${basename(config)}`);
  const databases = d1Names(raw);
  const ids = await ensureD1(databases, ctx);
  await ensureQueues(queueNames(raw), ctx);
  writeDeployConfig(generated, raw, ids, basename(config));
  log(`wrote ${shown(generated)}`);
  const controlDb = (raw.d1_databases ?? []).find((db) => db.binding === "DB")?.database_name;
  const generatedControl = join(configDir, GENERATED_CONTROL);
  if (controlDb) {
    writeDeployConfig(generatedControl, controlMigrationsConfig(raw, { root: configDir, dir: configDir }), ids, basename(config));
    log(`wrote ${shown(generatedControl)}`);
  }

  const deployCtx = { ...ctx, config: generated };
  step(`Secrets of the Worker ${raw.name}`);
  const worker = await workerSecrets(deployCtx);
  const fresh = missingSecrets(worker.names);
  if (!worker.exists) log(`${raw.name} is not deployed yet: its first deploy carries the secrets`);
  for (const name of Object.keys(fresh)) log(`${name}: not set, generated`);
  for (const name of worker.names.filter((n) => n === "ADMIN_TOKEN" || n === "SECRETS_KEY")) log(`${name}: already set, kept`);
  if (fresh.SECRETS_KEY && databases.length > 0 && worker.exists) {
    log(`warning: ${raw.name} is deployed but had no SECRETS_KEY; signing secrets stored under an earlier key cannot be read with the new one`);
  }

  step("Remote D1 migrations (before the new Worker goes live)");
  for (const name of databases) {
    const result = await wrangler(["d1", "migrations", "apply", name, "--remote", "-c", generated], { ...deployCtx, live: true });
    if (result.code !== 0) throw new DeployError(`the migrations of ${name} failed (see wrangler's output above); nothing was deployed`);
  }
  if (controlDb) {
    const result = await wrangler(["d1", "migrations", "apply", controlDb, "--remote", "-c", generatedControl], { ...deployCtx, live: true });
    if (result.code !== 0) throw new DeployError(`the control migrations of ${controlDb} failed (see wrangler's output above); nothing was deployed`);
  }

  step(`wrangler deploy -c ${shown(generated)}`);
  const secrets = secretsFile(fresh);
  const outDir = mkdtempSync(join(tmpdir(), "hookline-deploy-out-"));
  const outputFile = join(outDir, "wrangler-output.json");
  let targets;
  try {
    const args = ["deploy", "-c", generated, ...(secrets.path ? ["--secrets-file", secrets.path] : [])];
    const result = await wrangler(args, {
      ...deployCtx,
      env: { ...env, WRANGLER_OUTPUT_FILE_PATH: outputFile },
      live: true,
      interactive: true, // on a terminal wrangler may ask, e.g. to register a workers.dev subdomain
    });
    if (result.code !== 0) throw new DeployError(`wrangler deploy failed (exit ${result.code}): see its output above.${await afterFailure(fresh, deployCtx)}`);
    targets = deployTargets(outputFile);
  } finally {
    secrets.remove();
    rmSync(outDir, { recursive: true, force: true });
  }

  const url = targets.find((t) => /^https:\/\/\S+\.workers\.dev$/.test(t)) ?? targets.find((t) => t.startsWith("https://"));
  step("Deployed");
  log(url ? `Hookline is live at ${url}` : `deployed; targets: ${targets.join(", ") || "none reported"}`);
  if (fresh.ADMIN_TOKEN) {
    log(`ADMIN_TOKEN (the operator token; shown this once, keep it): ${fresh.ADMIN_TOKEN}`);
  } else {
    log("ADMIN_TOKEN was already set; Cloudflare cannot show a secret again, so it is not printed.");
    log(`(to replace it: npx wrangler secret put ADMIN_TOKEN -c ${shown(generated)})`);
  }
  console.log(`\n${nextSteps(url ?? "https://<your worker's url>", fresh.ADMIN_TOKEN)}`);
}

const program = new Command()
  .name("npm run deploy --")
  .description("Create what is missing on Cloudflare, migrate the remote D1 databases and deploy Hookline.")
  .option("-c, --config <file>", "the committed wrangler configuration to deploy", join(ROOT, "wrangler.toml"))
  .action(async (options) => {
    try {
      await deploy(options);
    } catch (err) {
      if (!(err instanceof DeployError)) throw err;
      console.error(`\n✘ ${err.message}`);
      process.exitCode = 1;
    }
  });

await program.parseAsync();
