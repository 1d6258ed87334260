/// <reference types="node" />
/**
 * `npm start` as a newcomer runs it: the ready message says where everything is, the
 * .dev.vars it writes holds secrets and is readable by its owner only, and Ctrl-C stops it.
 * With SHARDS=2 it runs on the generated configuration, with a migrated database per shard.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { CONFIG_VARS, DEV_VARS, SHARDS_CONFIG, freePort } from "../../scripts/launcher.mjs";

const stateDirs: string[] = [];
afterAll(() => stateDirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** Runs scripts/start.mjs as from a fresh shell (configuration from .dev.vars only, plus `extra`) until it is ready. */
async function npmStart(extra: NodeJS.ProcessEnv = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), "hookline-npm-start-"));
  stateDirs.push(stateDir);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), STATE_DIR: stateDir, WRANGLER_SEND_METRICS: "false" };
  for (const name of CONFIG_VARS) delete env[name];
  Object.assign(env, extra);
  const child = spawn(process.execPath, ["scripts/start.mjs"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  const ready = new Promise<void>((res, rej) => {
    const poll = setInterval(() => {
      if (output.includes("Press Ctrl-C to stop.")) {
        clearInterval(poll);
        res();
      }
    }, 100);
    exited.then((code) => {
      clearInterval(poll);
      rej(new Error(`npm start exited (${code}) before it was ready:\n${output}`));
    });
  });
  return { url: `http://127.0.0.1:${port}`, stateDir, child, exited, ready, output: () => output };
}

it("prints a ready message naming the API, docs, dashboard, operator token and state, and stops on SIGINT", async () => {
  const { url, stateDir, child, exited, ready, output } = await npmStart();
  try {
    await ready;
    expect(output()).toContain(`Hookline is ready on ${url}`);
    expect(output()).toContain(`${url}/docs/`);
    expect(output()).toContain(`${url}/dashboard`);
    expect(output()).toContain(`${url}/openapi.json`);
    expect(output()).toMatch(/operator token: +ADMIN_TOKEN in \.dev\.vars \(readable by you only\)/);
    expect(output()).toContain(stateDir.split("/").pop());
    expect(output()).toMatch(/data shards: +1 /);
    expect(statSync(DEV_VARS).mode & 0o777).toBe(0o600);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  } finally {
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  }
});

it("SHARDS=2 runs the generated configuration with a migrated database per shard, and stops on SIGINT", async () => {
  const { url, stateDir, child, exited, ready, output } = await npmStart({ SHARDS: "2" });
  try {
    await ready;
    expect(output()).toMatch(/data shards: +2 \(D1 databases hookline, hookline-1; configuration \.wrangler\/generated\/wrangler\.shards\.json\)/);
    expect(output()).toContain("env.DB_1 (hookline-1)");
    expect(output()).toContain("env.DELIVERY_QUEUE_1 (hookline-deliveries-1)");
    expect(output()).toMatch(/env\.SHARDS \("2"\)/);
    expect(output()).toMatch(/operator token: +ADMIN_TOKEN in \.dev\.vars/);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  } finally {
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  }
  expect(output()).toContain("stopped.");
  // Stopped: the databases are ours to open. Both carry the schema; a row in one is not in the other.
  const wrangler = join(dirname(createRequire(import.meta.url).resolve("wrangler/package.json")), "bin", "wrangler.js");
  const sql = (db: string, command: string) => {
    const args = [wrangler, "d1", "execute", db, "--local", "--persist-to", stateDir, "-c", SHARDS_CONFIG, "--json", "--command", command];
    const out = execFileSync(process.execPath, args, { env: { ...process.env, CI: "true", WRANGLER_SEND_METRICS: "false" }, encoding: "utf8" });
    return JSON.parse(out.slice(out.indexOf("[")))[0].results as Record<string, unknown>[];
  };
  for (const db of ["hookline", "hookline-1"]) {
    expect(sql(db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'deliveries'")).toEqual([{ name: "deliveries" }]);
  }
  sql("hookline-1", "CREATE TABLE shard_probe (x INTEGER)");
  expect(sql("hookline-1", "SELECT name FROM sqlite_master WHERE name = 'shard_probe'")).toHaveLength(1);
  expect(sql("hookline", "SELECT name FROM sqlite_master WHERE name = 'shard_probe'")).toHaveLength(0);
});
