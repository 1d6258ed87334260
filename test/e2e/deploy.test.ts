/// <reference types="node" />
/**
 * `npm run deploy` end to end without a Cloudflare account: the real scripts/deploy.mjs runs
 * with WRANGLER pointing at test/e2e/fake-wrangler.mjs, which answers as wrangler 4.86 does and
 * keeps the "account" (databases, queues, Workers, secrets, applied migrations) in a state file.
 * Each test deploys a copy of the committed wrangler.toml from its own temporary folder.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const FAKE = join(ROOT, "test", "e2e", "fake-wrangler.mjs");
const COMMITTED = readFileSync(join(ROOT, "wrangler.toml"), "utf8");
/** Every migration of a folder, as `d1 migrations apply` lists them. */
const migrations = (folder: string) =>
  readdirSync(join(ROOT, "migrations", folder))
    .filter((f) => f.endsWith(".sql"))
    .sort();
const MIGRATIONS = migrations("data");
const CONTROL_MIGRATIONS = migrations("control");
/** The fake's record of the control folder applied to database `id` (its own migrations table). */
const control = (id: string) => `${id}/d1_migrations_control`;
const OPS = { id: "9a1b2c3d4e5f60718293a4b5c6d7e8f9", name: "Hookline Ops" };
const SANDBOX = { id: "0f1e2d3c4b5a69788796a5b4c3d2e1f0", name: "Sandbox" };
const URL_ = "https://hookline.ops-team.workers.dev";

interface Call {
  argv: string[];
  account: string | null;
  exit: number;
  secrets?: string[];
  secretsFile?: string | null;
}
interface State {
  loggedIn: boolean;
  email: string;
  accounts: { id: string; name: string }[];
  subdomain: string | null;
  d1: { uuid: string; name: string }[];
  queues: { queue_name: string }[];
  workers: Record<string, { secrets: Record<string, string>; versions: number; migrationsAtDeploy?: Record<string, string[]> }>;
  applied: Record<string, string[]>;
  fail?: Record<string, string>;
  calls?: Call[];
}

const folders: string[] = [];
afterAll(() => folders.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A project folder (wrangler.toml and the migrations) and an account, as the fake sees them. */
function project(account: Partial<State> = {}, toml = COMMITTED) {
  const dir = mkdtempSync(join(tmpdir(), "hookline-deploy-test-"));
  folders.push(dir);
  writeFileSync(join(dir, "wrangler.toml"), toml);
  symlinkSync(join(ROOT, "migrations"), join(dir, "migrations"));
  const state: State = { loggedIn: true, email: "ops@example.com", accounts: [OPS], subdomain: "ops-team", d1: [], queues: [], workers: {}, applied: {}, ...account };
  writeFileSync(join(dir, "state.json"), JSON.stringify(state));
  return dir;
}

const readState = (dir: string): State => JSON.parse(readFileSync(join(dir, "state.json"), "utf8"));
const generated = (dir: string, file = "wrangler.deploy.jsonc") => JSON.parse(readFileSync(join(dir, file), "utf8").replace(/^\s*\/\/.*$/gm, ""));

/** Runs `npm run deploy` as a user would, with none of this shell's Cloudflare settings. */
function deploy(dir: string, env: Record<string, string> = {}) {
  const before = readState(dir).calls?.length ?? 0;
  const { CLOUDFLARE_ACCOUNT_ID: _a, CLOUDFLARE_API_TOKEN: _t, ...shell } = process.env;
  const run = spawnSync(process.execPath, [join(ROOT, "scripts", "deploy.mjs"), "-c", join(dir, "wrangler.toml")], {
    cwd: ROOT,
    env: { ...shell, WRANGLER: FAKE, FAKE_WRANGLER_STATE: join(dir, "state.json"), ...env },
    encoding: "utf8",
    timeout: 90_000,
  });
  const state = readState(dir);
  const calls = (state.calls ?? []).slice(before);
  // The commands, with paths shortened to file names: "deploy -c wrangler.deploy.jsonc".
  const commands = calls.map((c) => c.argv.map((a) => (a.startsWith("/") ? basename(a) : a)).join(" "));
  return { code: run.status, stdout: run.stdout, stderr: run.stderr, state, calls, commands };
}

const FIRST_DEPLOY = [
  "whoami --json",
  "d1 list --json -c wrangler.toml",
  "d1 create hookline -c wrangler.toml",
  "queues info hookline-deliveries -c wrangler.toml",
  "queues create hookline-deliveries -c wrangler.toml",
  "secret list --format json -c wrangler.deploy.jsonc",
  "d1 migrations apply hookline --remote -c wrangler.deploy.jsonc",
  "d1 migrations apply hookline --remote -c wrangler.deploy.control.jsonc",
  "deploy -c wrangler.deploy.jsonc --secrets-file secrets.json",
];

describe("npm run deploy", () => {
  it("deploys a new Worker on an empty account, then a second run changes nothing it should not", () => {
    const dir = project();
    const first = deploy(dir);
    expect(first.code, first.stderr).toBe(0);
    expect(first.commands).toEqual(FIRST_DEPLOY);
    expect(first.calls.slice(1).every((c) => c.account === OPS.id)).toBe(true);

    const [db] = first.state.d1;
    expect(generated(dir).d1_databases).toEqual([{ binding: "DB", database_name: "hookline", database_id: db.uuid, migrations_dir: "migrations/data" }]);
    expect(generated(dir, "wrangler.deploy.control.jsonc").d1_databases).toEqual([
      { binding: "DB", database_name: "hookline", database_id: db.uuid, migrations_dir: "migrations/control", migrations_table: "d1_migrations_control" },
    ]);
    expect(readFileSync(join(dir, "wrangler.toml"), "utf8")).toBe(COMMITTED);

    const worker = first.state.workers.hookline;
    expect(worker.migrationsAtDeploy).toEqual({ [db.uuid]: MIGRATIONS, [control(db.uuid)]: CONTROL_MIGRATIONS });
    expect(Buffer.from(worker.secrets.SECRETS_KEY, "base64")).toHaveLength(32);
    const token = worker.secrets.ADMIN_TOKEN;
    expect(token).toMatch(/^[\w-]{43}$/);
    expect(existsSync(first.calls.at(-1)!.secretsFile!)).toBe(false);
    expect(first.stdout).toContain(`Hookline is live at ${URL_}`);
    expect(first.stdout).toContain(`shown this once, keep it): ${token}`);
    expect(first.stdout).toContain(`curl -s -X POST ${URL_}/v1/accounts -H "Authorization: Bearer ${token}"`);
    expect(first.stdout).toContain(`npx hookline login --url ${URL_} --api-key <api_key.key>`);
    expect(first.stdout).toContain(`${URL_}/dashboard`);

    const again = deploy(dir);
    expect(again.code, again.stderr).toBe(0);
    expect(again.commands).toEqual([
      "whoami --json",
      "d1 list --json -c wrangler.toml",
      "queues info hookline-deliveries -c wrangler.toml",
      "secret list --format json -c wrangler.deploy.jsonc",
      "d1 migrations apply hookline --remote -c wrangler.deploy.jsonc",
      "d1 migrations apply hookline --remote -c wrangler.deploy.control.jsonc",
      "deploy -c wrangler.deploy.jsonc",
    ]);
    expect(again.state.d1).toEqual(first.state.d1);
    expect(again.state.queues).toEqual(first.state.queues);
    expect(again.state.workers.hookline.secrets).toEqual(worker.secrets);
    expect(again.stdout).toContain("No migrations to apply");
    expect(again.stdout).not.toContain(token);
    expect(again.stdout).toContain("ADMIN_TOKEN was already set; Cloudflare cannot show a secret again, so it is not printed.");
    expect(again.stdout).toContain('-H "Authorization: Bearer $ADMIN_TOKEN"');
    expect(generated(dir).d1_databases[0].database_id).toBe(db.uuid);
  });

  it("stops before touching anything when wrangler is not logged in, and says how to log in", () => {
    const dir = project({ loggedIn: false });
    const run = deploy(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("Not logged in to Cloudflare. Run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN)");
    expect(run.commands).toEqual(["whoami --json"]);
    expect(existsSync(join(dir, "wrangler.deploy.jsonc"))).toBe(false);
  });

  it("asks for CLOUDFLARE_ACCOUNT_ID when several accounts are available, then acts on the chosen one only", () => {
    const dir = project({ accounts: [SANDBOX, OPS] });
    const ambiguous = deploy(dir);
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.stderr).toContain("Several Cloudflare accounts are available and none is chosen");
    expect(ambiguous.stderr).toContain(`CLOUDFLARE_ACCOUNT_ID=${OPS.id}   (${OPS.name})`);
    expect(ambiguous.stderr).toContain(`CLOUDFLARE_ACCOUNT_ID=${SANDBOX.id}   (${SANDBOX.name})`);
    expect(ambiguous.commands).toEqual(["whoami --json"]);

    const unknown = deploy(dir, { CLOUDFLARE_ACCOUNT_ID: "ffffffffffffffffffffffffffffffff" });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain("Account ffffffffffffffffffffffffffffffff is not one this login can use");

    const chosen = deploy(dir, { CLOUDFLARE_ACCOUNT_ID: OPS.id });
    expect(chosen.code, chosen.stderr).toBe(0);
    expect(chosen.commands).toEqual(FIRST_DEPLOY);
    expect(chosen.calls.every((c) => c.account === OPS.id)).toBe(true);
  });

  it("reuses what the old manual steps made, by name, and never replaces an existing SECRETS_KEY", () => {
    const uuid = "5f0c6a4e-2b1d-4c8e-9f3a-7d6e5c4b3a21";
    const dir = project({
      d1: [{ uuid: "11111111-2222-4333-8444-555555555555", name: "other" }, { uuid, name: "hookline" }],
      queues: [{ queue_name: "hookline-deliveries" }],
      workers: { hookline: { secrets: { SECRETS_KEY: "the-key-every-stored-secret-needs" }, versions: 3 } },
      applied: { [uuid]: MIGRATIONS.slice(0, 2) },
    });
    const run = deploy(dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.commands.filter((c) => c.includes(" create "))).toEqual([]);
    expect(generated(dir).d1_databases[0].database_id).toBe(uuid);
    expect(run.calls.at(-1)!.secrets).toEqual(["ADMIN_TOKEN"]);
    const { secrets, migrationsAtDeploy } = run.state.workers.hookline;
    expect(secrets.SECRETS_KEY).toBe("the-key-every-stored-secret-needs");
    expect(migrationsAtDeploy![uuid]).toEqual(MIGRATIONS);
    expect(migrationsAtDeploy![control(uuid)]).toEqual(CONTROL_MIGRATIONS);
    expect(run.stdout).toContain("SECRETS_KEY: already set, kept");
    expect(run.stdout).toContain(`shown this once, keep it): ${secrets.ADMIN_TOKEN}`);
  });

  it("stops without generating or deploying anything when it cannot tell which secrets the Worker has", () => {
    const dir = project({
      workers: { hookline: { secrets: { SECRETS_KEY: "kept", ADMIN_TOKEN: "kept-too" }, versions: 1 } },
      fail: { "secret list": "Authentication error [code: 10000]" },
    });
    const run = deploy(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("wrangler secret list --format json");
    expect(run.stderr).toContain("Authentication error [code: 10000]");
    expect(run.commands.at(-1)).toBe("secret list --format json -c wrangler.deploy.jsonc");
    expect(run.state.workers.hookline).toEqual({ secrets: { SECRETS_KEY: "kept", ADMIN_TOKEN: "kept-too" }, versions: 1 });
  });

  it("does not deploy when a migration fails", () => {
    const dir = project({ fail: { "d1 migrations apply": "near \"CREAT\": syntax error at offset 0: SQLITE_ERROR [code: 7500]" } });
    const run = deploy(dir);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("SQLITE_ERROR");
    expect(run.stderr).toContain("the migrations of hookline failed (see wrangler's output above); nothing was deployed");
    expect(run.commands.at(-1)).toBe("d1 migrations apply hookline --remote -c wrangler.deploy.jsonc");
    expect(run.state.workers).toEqual({});
  });

  it("shows the new admin token when a first deploy fails after the upload (no workers.dev subdomain yet)", () => {
    const dir = project({ subdomain: null });
    const failed = deploy(dir);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("register a workers.dev subdomain here:");
    const { secrets } = failed.state.workers.hookline;
    expect(failed.stderr).toContain("The upload went through before the failure: ADMIN_TOKEN and SECRETS_KEY are set and will be kept.");
    expect(failed.stderr).toContain(`shown this once, keep it): ${secrets.ADMIN_TOKEN}`);

    writeFileSync(join(dir, "state.json"), JSON.stringify({ ...failed.state, subdomain: "ops-team" }));
    const retried = deploy(dir);
    expect(retried.code, retried.stderr).toBe(0);
    expect(retried.commands.at(-1)).toBe("deploy -c wrangler.deploy.jsonc");
    expect(retried.state.workers.hookline.secrets).toEqual(secrets);
    expect(retried.stdout).toContain(`Hookline is live at ${URL_}`);
  });

  it("creates every database and queue of a sharded configuration, dead-letter queue included", () => {
    const sharded = COMMITTED.replace(/\[\[d1_databases\]\][\s\S]*?(?=\[\[durable_objects)/, "")
      .concat(
        ...[0, 1].map(
          (n) => `\n[[d1_databases]]\nbinding = "${n ? `DB_${n}` : "DB"}"\ndatabase_name = "hookline-${n}"\ndatabase_id = "00000000-0000-0000-0000-000000000000"\nmigrations_dir = "migrations/data"\n` +
            `\n[[queues.producers]]\nbinding = "${n ? `DELIVERY_QUEUE_${n}` : "DELIVERY_QUEUE"}"\nqueue = "hookline-deliveries-${n}"\n` +
            `\n[[queues.consumers]]\nqueue = "hookline-deliveries-${n}"\ndead_letter_queue = "hookline-dead-letters"\n`,
        ),
      );
    const dir = project({ queues: [{ queue_name: "hookline-deliveries-1" }] }, sharded);
    const run = deploy(dir);
    expect(run.code, run.stderr).toBe(0);
    expect(run.commands.filter((c) => / create | migrations /.test(c))).toEqual([
      "d1 create hookline-0 -c wrangler.toml",
      "d1 create hookline-1 -c wrangler.toml",
      "queues create hookline-deliveries-0 -c wrangler.toml",
      "queues create hookline-dead-letters -c wrangler.toml",
      "d1 migrations apply hookline-0 --remote -c wrangler.deploy.jsonc",
      "d1 migrations apply hookline-1 --remote -c wrangler.deploy.jsonc",
      "d1 migrations apply hookline-0 --remote -c wrangler.deploy.control.jsonc",
    ]);
    const ids = Object.fromEntries(run.state.d1.map((db) => [db.name, db.uuid]));
    expect(generated(dir).d1_databases.map((db: { database_id: string }) => db.database_id)).toEqual([ids["hookline-0"], ids["hookline-1"]]);
    // The control folder goes to shard 0's database (binding DB) only.
    expect(run.state.workers.hookline.migrationsAtDeploy).toEqual({
      [ids["hookline-0"]]: MIGRATIONS,
      [control(ids["hookline-0"])]: CONTROL_MIGRATIONS,
      [ids["hookline-1"]]: MIGRATIONS,
    });
  });
});
