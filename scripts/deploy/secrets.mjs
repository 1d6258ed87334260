/**
 * ADMIN_TOKEN and SECRETS_KEY: generated only when the Worker does not have them yet, and
 * uploaded with the deploy itself (`wrangler deploy --secrets-file`), so they go live
 * together with the code that needs them, also on a Worker's very first deploy.
 *
 * SECRETS_KEY is never replaced: every signing secret at rest is encrypted with it, and a
 * new key would make them all unreadable. So when wrangler cannot tell which secrets the
 * Worker has, the deploy stops rather than guess "none".
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failed, parseJsonOutput, wrangler } from "./wrangler.mjs";

export const REQUIRED_SECRETS = ["ADMIN_TOKEN", "SECRETS_KEY"];

const GENERATORS = {
  ADMIN_TOKEN: () => randomBytes(32).toString("base64url"),
  SECRETS_KEY: () => randomBytes(32).toString("base64"), // the AES-256 key, base64 as the Worker reads it
};

/**
 * The names of the secrets the Worker has; `exists: false` when the Worker is not deployed yet.
 * @returns {Promise<{ exists: boolean, names: string[] }>}
 */
export async function workerSecrets(ctx) {
  const args = ["secret", "list", "--format", "json", "-c", ctx.config];
  const result = await wrangler(args, ctx);
  if (result.code !== 0) {
    // wrangler 4.86: `Worker "<name>" not found.` ... "If this is a new Worker, run `wrangler deploy` first"
    if (/Worker "[^"]*" not found/.test(result.output)) return { exists: false, names: [] };
    throw failed(args, result);
  }
  const list = parseJsonOutput(result.stdout);
  if (!Array.isArray(list)) throw failed(args, { ...result, code: "0, but no JSON list" });
  return { exists: true, names: list.map((s) => s.name) };
}

/** Fresh values for the required secrets the Worker lacks. */
export function missingSecrets(present) {
  return Object.fromEntries(REQUIRED_SECRETS.filter((name) => !present.includes(name)).map((name) => [name, GENERATORS[name]()]));
}

/**
 * A private temporary file for `--secrets-file` (JSON), or undefined when nothing is new.
 * Call remove() when the deploy is over, whatever its outcome.
 */
export function secretsFile(values) {
  if (Object.keys(values).length === 0) return { path: undefined, remove: () => {} };
  const dir = mkdtempSync(join(tmpdir(), "hookline-deploy-"));
  const path = join(dir, "secrets.json");
  writeFileSync(path, JSON.stringify(values), { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
