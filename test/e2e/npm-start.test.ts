/// <reference types="node" />
/**
 * `npm start` as a newcomer runs it: the ready message says where everything is, the
 * .dev.vars it writes holds secrets and is readable by its owner only, and Ctrl-C stops it.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { CONFIG_VARS, DEV_VARS, freePort } from "../../scripts/launcher.mjs";

const stateDir = mkdtempSync(join(tmpdir(), "hookline-npm-start-"));
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

it("prints a ready message naming the API, docs, dashboard, operator token and state, and stops on SIGINT", async () => {
  const port = await freePort();
  // As from a fresh shell: configuration comes from .dev.vars only.
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), STATE_DIR: stateDir, WRANGLER_SEND_METRICS: "false" };
  for (const name of CONFIG_VARS) delete env[name];
  const child = spawn(process.execPath, ["scripts/start.mjs"], { env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((res) => child.on("exit", (code) => res(code)));
  try {
    await new Promise<void>((res, rej) => {
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
    const url = `http://127.0.0.1:${port}`;
    expect(output).toContain(`Hookline is ready on ${url}`);
    expect(output).toContain(`${url}/docs/`);
    expect(output).toContain(`${url}/dashboard`);
    expect(output).toContain(`${url}/openapi.json`);
    expect(output).toMatch(/operator token: +ADMIN_TOKEN in \.dev\.vars \(readable by you only\)/);
    expect(output).toContain(stateDir.split("/").pop());
    expect(statSync(DEV_VARS).mode & 0o777).toBe(0o600);
    expect((await fetch(`${url}/health`)).status).toBe(200);
  } finally {
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  }
});
