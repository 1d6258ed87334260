/**
 * Runs wrangler for `npm run deploy`: the project's pinned one, or the program that
 * WRANGLER names (a fake that answers like wrangler in the tests, a global install).
 */
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";

const PINNED = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");

/**
 * The argv prefix of the wrangler to run. A .js/.mjs/.cjs override runs under this Node, so it
 * needs no exec bit; a relative path is taken from where the deploy started, not wrangler's cwd.
 */
export function wranglerCommand(override = process.env.WRANGLER) {
  if (!override) return [process.execPath, PINNED];
  const command = override.includes("/") ? resolve(override) : override;
  return /\.[cm]?js$/.test(command) ? [process.execPath, command] : [command];
}

export class DeployError extends Error {}

/**
 * Runs `wrangler <args>`.
 *   capture: stdout and stderr are collected and returned (the default)
 *   live: wrangler prints straight to ours; `interactive` also hands it our stdin, so it may
 *     ask questions on a terminal (without it wrangler sees no TTY and takes its non-interactive answers)
 * Resolves to { code, stdout, stderr, output }; never rejects on a non-zero exit.
 */
export function wrangler(args, { env = process.env, cwd, live = false, interactive = false } = {}) {
  const [command, ...prefix] = wranglerCommand(env.WRANGLER);
  const stdio = live ? [interactive ? "inherit" : "ignore", "inherit", "inherit"] : ["ignore", "pipe", "pipe"];
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...prefix, ...args], { cwd, env, stdio });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (d) => (stdout += d));
    child.stderr?.on("data", (d) => (stderr += d));
    child.on("error", (err) => reject(new DeployError(`could not run wrangler (${command}): ${err.message}`)));
    child.on("close", (code, signal) => resolve({ code: code ?? signal, stdout, stderr, output: `${stdout}${stderr}` }));
  });
}

/** Like wrangler(), but a failure becomes a DeployError that carries what wrangler said. */
export async function wranglerOk(args, options) {
  const result = await wrangler(args, options);
  if (result.code !== 0) throw failed(args, result);
  return result;
}

export function failed(args, result) {
  const said = result.output?.trim();
  return new DeployError(`wrangler ${args.join(" ")} failed (exit ${result.code})${said ? `:\n${said}` : ""}`);
}

/**
 * The JSON document in a wrangler command's stdout. `--json` output is the whole of stdout,
 * but warnings may precede it, so fall back to the text from the first line that opens one.
 */
export function parseJsonOutput(stdout) {
  try {
    return JSON.parse(stdout);
  } catch {
    const start = stdout.search(/^[[{]/m);
    if (start < 0) return undefined;
    try {
      return JSON.parse(stdout.slice(start));
    } catch {
      return undefined;
    }
  }
}
