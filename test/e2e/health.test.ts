/// <reference types="node" />
/** The real service as `npm start` runs it: health, docs, an account, the sweep, and a clean stop. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isPortFree, processGroupMembers } from "../../scripts/launcher.mjs";
import { curl } from "./curl";
import { startService, type Service } from "./service";

/** Live processes whose command line mentions this run's port or state directory. */
function processesOfRun(port: number, stateDir: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((e) => /^\d+$/.test(e))) {
    let cmdline: string, stat: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
      stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    } catch {
      continue;
    }
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    if (state === "Z") continue;
    if (/workerd|wrangler/.test(cmdline) && (cmdline.includes(stateDir) || cmdline.includes(`127.0.0.1:${port}`))) {
      found.push(`${pid} ${cmdline.slice(0, 200)}`);
    }
  }
  return found;
}

describe("the running service", () => {
  let service: Service;
  beforeAll(async () => {
    service = await startService();
  });
  afterAll(async () => {
    await service?.stop();
  });

  it("answers GET /health with 200 {ok: true} without credentials", async () => {
    const res = await service.api("GET", "/health", { token: null });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ ok: true });
  });

  it("serves an OpenAPI 3.1 document", async () => {
    const res = await service.api("GET", "/openapi.json", { token: null });
    expect(res.status, res.text).toBe(200);
    expect(res.json.openapi).toMatch(/^3\.1\./);
    expect(res.json.paths["/v1/accounts"]).toBeDefined();
  });

  it("serves the docs page and its renderer from static assets", async () => {
    const page = await fetch(`${service.url}/docs/`);
    const html = await page.text();
    expect(page.status, html.slice(0, 300)).toBe(200);
    expect(page.headers.get("content-type")).toContain("text/html");
    expect(html).toContain("swagger-ui-bundle.js");

    const bundle = await fetch(`${service.url}/docs/swagger-ui-bundle.js`);
    const js = await bundle.text();
    expect(bundle.status, js.slice(0, 300)).toBe(200);
    expect(bundle.headers.get("content-type")).toMatch(/javascript/);
    expect(js.length).toBeGreaterThan(100_000);
  });

  it("lets an operator create an account whose api_key then works", async () => {
    const created = await service.api("POST", "/v1/accounts", { body: { name: "yourname" } });
    expect(created.status, created.text).toBe(201);
    expect(created.json.id).toMatch(/^acct_/);
    const key = created.json.api_key.key as string;
    expect(key).toBeTruthy();

    const self = await service.api("GET", "/v1/account", { token: key });
    expect(self.status, self.text).toBe(200);
    expect(self.json).toMatchObject({ id: created.json.id, name: "yourname" });

    const anonymous = await service.api("GET", "/v1/account", { token: null });
    expect(anonymous.status).toBe(401);
  });

  it("refuses a 3 MB chunked body with 413 and serves the next request (wrangler dev's proxy survives)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "hookline-big-"));
    try {
      const big = join(dir, "3mb");
      writeFileSync(big, "a".repeat(3_000_000));
      // curl streams it chunked after `Expect: 100-continue`, the way the refusal once broke the next request.
      const refused = await curl(["-X", "POST", "-H", "Transfer-Encoding: chunked", "--data-binary", `@${big}`, `${service.url}/dashboard/login`]);
      expect(refused.status, refused.text).toBe(413);
      expect(refused.json?.detail).toContain("1 MiB");
      const next = await curl(["-X", "POST", "-H", `Authorization: Bearer ${service.adminToken}`, "-H", "Content-Type: application/json", "-d", '{"name":"after-the-big-one"}', `${service.url}/v1/accounts`]);
      expect(next.status, next.text).toBe(201);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("runs the cron sweep through /__scheduled", async () => {
    expect(await service.sweep()).toBe(200);
  });
});

describe("the launcher", () => {
  it("stop() leaves no process of the run alive and the port free", async () => {
    const service = await startService();
    const { pid, port, stateDir } = service.hookline;
    expect(processGroupMembers(pid).length).toBeGreaterThanOrEqual(3); // supervisor, wrangler, workerd
    expect(processesOfRun(port, stateDir).length).toBeGreaterThan(0);

    await service.stop();

    expect(processGroupMembers(pid)).toEqual([]);
    expect(processesOfRun(port, stateDir)).toEqual([]);
    expect(await isPortFree(port)).toBe(true);
    await expect(fetch(`${service.url}/health`)).rejects.toThrow();
  });

  it("cleans up after wrangler is killed outright", async () => {
    const service = await startService();
    const { pid, port } = service.hookline;
    service.hookline.kill("SIGKILL");
    await service.hookline.exited;
    await service.stop();
    expect(processGroupMembers(pid)).toEqual([]);
    expect(await isPortFree(port)).toBe(true);
  });
});
