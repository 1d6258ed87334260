/// <reference types="node" />
/**
 * The CLI as a user runs it: the built bin (dist/cli.js, also linked as `smartshape-cli` on
 * PATH, as `npm install -g` does) spawned against the real service, stdout parsed as the
 * user's scripts would, exit codes and stderr checked. `webhook listen` receives real
 * deliveries over its WebSocket; the seed's `listen | jq` pipeline runs in bash.
 */
import { compare } from "bcryptjs";
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openapiDocument } from "../../scripts/client-types.mjs";
import { freePort } from "../../scripts/launcher.mjs";
import { answer, type Receiver, startReceiver } from "./receiver";
import { type Service, startService } from "./service";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");
const HAS_JQ = spawnSync("jq", ["--version"]).status === 0;
const LEASE_SECONDS = 3;
const ESC = "\u001b";

let service: Service;
let home: string; // HOME and XDG_CONFIG_HOME of the "user"
let bin: string; // a PATH folder with `hookline` and `smartshape-cli`, as npm links them
let account: { id: string; name: string; key: string };
const receivers: Receiver[] = [];
const children = new Set<ChildProcessWithoutNullStreams>();

beforeAll(async () => {
  // The bin as `npm install` (prepare) builds it, from the current sources.
  const built = spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "--js-only"], { encoding: "utf8" });
  expect(built.status, built.stderr).toBe(0);
  home = mkdtempSync(join(tmpdir(), "hookline-cli-home-"));
  bin = mkdtempSync(join(tmpdir(), "hookline-cli-bin-"));
  symlinkSync(CLI, join(bin, "hookline"));
  symlinkSync(CLI, join(bin, "smartshape-cli"));
  service = await startService({ RETRY_SCHEDULE: "1,1,1", DELIVERY_TIMEOUT_MS: "3000", LISTEN_LEASE_SECONDS: String(LEASE_SECONDS) });
  account = await newAccount("cli-user", "cli@example.com");
});

afterAll(async () => {
  for (const child of children) {
    try {
      process.kill(-child.pid!, "SIGKILL"); // its process group: a pipeline's every member
    } catch {
      // already gone
    }
  }
  await Promise.all(receivers.map((r) => r.close()));
  await service?.stop();
  for (const dir of [home, bin]) if (dir) rmSync(dir, { recursive: true, force: true });
});

async function newAccount(name: string, email = `${name}@example.com`) {
  const res = await service.api("POST", "/v1/accounts", { body: { name, email, plan: "business" } });
  expect(res.status, res.text).toBe(201);
  return { id: res.json.id as string, name: res.json.name as string, key: res.json.api_key.key as string };
}

/** The user's environment: no Hookline variables unless a test gives them. */
function userEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:${process.env.PATH}`,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    LANG: "C.UTF-8",
  };
  for (const [k, v] of Object.entries(extra)) if (v !== undefined) env[k] = v;
  return env;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `hookline <args>` to completion (by default with HOOKLINE_URL and the account's key in the environment). */
function cli(args: string[], env: Record<string, string | undefined> = {}, program = "hookline"): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(join(bin, program), args, {
      env: userEnv({ HOOKLINE_URL: service.url, HOOKLINE_API_KEY: account.key, ...env }),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolvePromise({ code, stdout, stderr }));
  });
}

/** Runs it and parses its --json output; fails the test with stderr when it exits non-zero. */
async function cliJson(args: string[], env: Record<string, string | undefined> = {}): Promise<any> {
  const run = await cli([...args, "--json"], env);
  expect(run.code, run.stderr).toBe(0);
  return JSON.parse(run.stdout);
}

const noStack = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$|node:internal/m);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function emit(accountId: string, type: string, subject: string, data: unknown) {
  const res = await service.api("POST", "/v1/events", { body: { account_id: accountId, type, subject, data } });
  expect(res.status, res.text).toBe(202);
  return res.json.data[0].id as string;
}

async function listenSubscriptions(key: string) {
  const res = await service.api("GET", "/v1/subscriptions?limit=100", { token: key });
  expect(res.status, res.text).toBe(200);
  return (res.json.data as Array<{ id: string; url: string }>).filter((s) => s.url.startsWith("listen://"));
}

describe("configuration", () => {
  it("login checks the key and writes it with mode 0600; later commands use it; a flag wins over the environment, which wins over the file", async () => {
    const login = await cli(["login", "--url", service.url, "--api-key", account.key], { HOOKLINE_URL: undefined, HOOKLINE_API_KEY: undefined });
    expect(login.code, login.stderr).toBe(0);
    expect(login.stderr).toContain(`account ${account.name}`);
    const file = join(home, ".config", "hookline", "config.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(home, ".config", "hookline")).mode & 0o777).toBe(0o700);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ url: service.url, api_key: account.key });

    // Nothing in the environment: the file's url and key.
    const fromFile = await cli(["subscriptions", "list", "--json"], { HOOKLINE_URL: undefined, HOOKLINE_API_KEY: undefined });
    expect(fromFile.code, fromFile.stderr).toBe(0);
    expect(JSON.parse(fromFile.stdout)).toHaveProperty("data");

    // The environment wins over the file; the flag wins over the environment.
    const envWins = await cli(["subscriptions", "list"], { HOOKLINE_URL: undefined, HOOKLINE_API_KEY: "hl_wrong" });
    expect(envWins.code).not.toBe(0);
    expect(envWins.stderr).toContain("Unauthorized");
    const flagWins = await cli(["subscriptions", "list", "--json", "--api-key", account.key], { HOOKLINE_API_KEY: "hl_wrong" });
    expect(flagWins.code, flagWins.stderr).toBe(0);

    // A wrong key is refused at login, and nothing is written.
    const bad = await cli(["login", "--url", service.url, "--api-key", "hl_wrong"], { XDG_CONFIG_HOME: join(home, "other") });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/Unauthorized/);
    expect(() => statSync(join(home, "other", "hookline", "config.json"))).toThrow();
  });
});

describe("the SmartShape seed's commands, as smartshape-cli", () => {
  it("webhook create, list and delete go through the SmartShape face", async () => {
    const receiver = await startReceiver((_req, _n, res) => answer(res, 200, { success: true }));
    receivers.push(receiver);
    const made = await cli(["webhook", "create", `${receiver.url}/path/to/webhook/endpoint`, "attribute_updated", "my-secret-token", "--json"], {}, "smartshape-cli");
    expect(made.code, made.stderr).toBe(0);
    const hook = JSON.parse(made.stdout);
    expect(hook).toEqual({ _id: expect.stringMatching(/^sub_/), event: "attribute_updated", url: `${receiver.url}/path/to/webhook/endpoint` });
    expect(made.stdout).not.toContain("my-secret-token");

    const listed = await cli(["webhook", "list"], {}, "smartshape-cli");
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout).toMatch(new RegExp(`^${hook._id}\\s+attribute_updated\\s+`, "m"));
    expect(await cliJson(["webhook", "list"])).toContainEqual(hook);

    // The hook is a real smartshape subscription: an event reaches the receiver with the bcrypt token.
    await emit(account.id, "attribute_updated", "5c6aeed079bf3f432d3c929e", { nodeIdToAttributes: {} });
    const [req] = await receiver.waitFor(1);
    expect(await compare("my-secret-token", req.headers["x-smartshape-token"])).toBe(true);

    const deleted = await cli(["webhook", "delete", hook._id], {}, "smartshape-cli");
    expect(deleted.code, deleted.stderr).toBe(0);
    expect(await cliJson(["webhook", "list"])).not.toContainEqual(hook);
    const again = await cli(["webhook", "delete", hook._id], {}, "smartshape-cli");
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/not found/i);
  });

  it("says it is smartshape-cli in its help", async () => {
    const help = await cli(["--help"], {}, "smartshape-cli");
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: smartshape-cli /);
    expect(help.stdout).toContain("installed as smartshape-cli");
    expect((await cli(["--help"])).stdout).toMatch(/^Usage: hookline /);
  });
});

describe("/v1 commands", () => {
  it("subscriptions create, list, get, update, secret, test, rotate-secret, recover, delete (--json)", async () => {
    const receiver = await startReceiver((_req, _n, res) => answer(res, 200));
    receivers.push(receiver);
    const created = await cliJson([
      "subscriptions", "create", `${receiver.url}/hooks`,
      "--event", "document.*", "--event", "folder.created",
      "--description", "from the cli", "--header", "x-team=blue", "--metadata", "owner=ops",
    ]);
    expect(created).toMatchObject({
      id: expect.stringMatching(/^sub_/),
      url: `${receiver.url}/hooks`,
      event_types: ["document.*", "folder.created"],
      format: "standard",
      description: "from the cli",
      headers: { "x-team": "blue" },
      metadata: { owner: "ops" },
      active: true,
      secret: expect.stringMatching(/^whsec_/),
    });
    const id = created.id as string;

    const page = await cliJson(["subscriptions", "list", "--limit", "100"]);
    expect(page.data.map((s: { id: string }) => s.id)).toContain(id);
    expect(page).toHaveProperty("next_cursor");
    const table = await cli(["subs", "list"]);
    expect(table.stdout).toMatch(/^ID\s+FORMAT\s+EVENTS\s+URL\s+ACTIVE\s+FAILURES$/m);
    expect(table.stdout).toContain(id);

    const got = await cliJson(["subscriptions", "get", id]);
    expect(got).toMatchObject({ id, description: "from the cli" });
    expect(got).not.toHaveProperty("secret");

    const updated = await cliJson(["subscriptions", "update", id, "--description", "changed", "--disable", "--event", "document.updated"]);
    expect(updated).toMatchObject({ id, description: "changed", active: false, event_types: ["document.updated"] });
    expect(await cliJson(["subscriptions", "update", id, "--enable"])).toMatchObject({ active: true });
    const nothing = await cli(["subscriptions", "update", id]);
    expect(nothing.code).toBe(1);
    expect(nothing.stderr).toContain("nothing to change");

    expect(await cliJson(["subscriptions", "secret", id])).toEqual({ secret: created.secret });

    const tested = await cliJson(["subscriptions", "test", id]);
    expect(tested).toMatchObject({ success: true, status_code: 200, event_id: expect.stringMatching(/^evt_/), delivery_id: expect.stringMatching(/^dlv_/) });
    expect(receiver.requests.at(-1)!.headers["x-team"]).toBe("blue");

    const rotated = await cliJson(["subscriptions", "rotate-secret", id]);
    expect(rotated.secret).toMatch(/^whsec_/);
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated.previous_secret_expires_at).toEqual(expect.any(String));

    expect(await cliJson(["subscriptions", "recover", id, "--since", "1h"])).toEqual({ deliveries: expect.any(Number) });

    expect(await cliJson(["subscriptions", "delete", id])).toEqual({ id, deleted: true });
    const gone = await cli(["subscriptions", "get", id]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain("Not found (404)");
  });

  it("events emit with the operator token (--account, --data JSON or @file), events list/get, deliveries list/get/redeliver", async () => {
    const receiver = await startReceiver((_req, _n, res) => answer(res, 200));
    receivers.push(receiver);
    const sub = await cliJson(["subscriptions", "create", `${receiver.url}/emitted`, "--event", "export.ok"]);

    const operator = { HOOKLINE_API_KEY: service.adminToken };
    const emitted = await cliJson(["events", "emit", "export.ok", "--account", account.id, "--subject", "job_1", "--data", '{"id": "job_1", "n": 1.0}'], operator);
    expect(emitted).toEqual({ data: [{ id: expect.stringMatching(/^evt_/), deliveries: 1 }] });
    const eventId = emitted.data[0].id as string;

    const dataFile = join(home, "event.json");
    writeFileSync(dataFile, JSON.stringify({ id: "job_2" }));
    const fromFile = await cliJson(["events", "emit", "export.ok", "--account", account.id, "--data", `@${dataFile}`], operator);
    expect(fromFile.data[0].deliveries).toBe(1);

    // An account key cannot emit; the message says why.
    const refused = await cli(["events", "emit", "export.ok", "--account", account.id, "--data", "{}"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^error: Forbidden \(403\): .*operator/m);
    const badData = await cli(["events", "emit", "export.ok", "--account", account.id, "--data", "{nope"], operator);
    expect(badData.code).toBe(1);
    expect(badData.stderr).toContain("--data is not valid JSON");

    await receiver.waitFor(2);
    const listed = await cliJson(["events", "list", "--type", "export.ok", "--subject", "job_1"]);
    expect(listed.data.map((e: { id: string }) => e.id)).toEqual([eventId]);
    const event = await until("the delivery to be delivered", async () => {
      const e = await cliJson(["events", "get", eventId]);
      return e.deliveries[0]?.status === "delivered" && e;
    });
    expect(event).toMatchObject({ id: eventId, type: "export.ok", subject: "job_1", data: { id: "job_1", n: 1 } });
    const deliveryId = event.deliveries[0].id as string;

    const deliveries = await cliJson(["deliveries", "list", "--subscription", sub.id, "--status", "delivered"]);
    expect(deliveries.data.map((d: { id: string }) => d.id)).toContain(deliveryId);
    const delivery = await cliJson(["deliveries", "get", deliveryId]);
    expect(delivery).toMatchObject({ id: deliveryId, status: "delivered", attempts: [{ number: 1, outcome: "success", status_code: 200 }] });
    const shown = await cli(["deliveries", "get", deliveryId]);
    expect(shown.stdout).toMatch(/^#\s+STARTED\s+MS\s+OUTCOME\s+STATUS\s+ERROR$/m);

    const redelivered = await cliJson(["deliveries", "redeliver", deliveryId]);
    expect(redelivered).toMatchObject({ id: deliveryId, status: "pending" });
    await receiver.waitFor(3);
    expect(receiver.requests[2].headers["webhook-id"]).toBe(deliveryId);
  });
});

describe("failures and output", () => {
  it("a wrong key exits non-zero with the problem's title and detail, never a stack trace", async () => {
    const run = await cli(["subscriptions", "list"], { HOOKLINE_API_KEY: "hl_not-a-real-key" });
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toMatch(/^error: Unauthorized \(401\): \S.+$/m);
    noStack(run.stderr);
  });

  it("an unreachable service, a missing key, a bad flag and a 422 are one readable line each", async () => {
    const closed = await freePort(); // nothing listens there
    const down = await cli(["subscriptions", "list"], { HOOKLINE_URL: `http://127.0.0.1:${closed}` });
    expect(down.code).toBe(1);
    expect(down.stderr).toContain(`cannot reach http://127.0.0.1:${closed} (ECONNREFUSED)`);
    noStack(down.stderr);

    const noKey = await cli(["subscriptions", "list"], { HOOKLINE_API_KEY: undefined, XDG_CONFIG_HOME: join(home, "nothing-here") });
    expect(noKey.code).toBe(1);
    expect(noKey.stderr).toContain("no API key");

    const usage = await cli(["subscriptions", "create", "--event", "document.*"]);
    expect(usage.code).toBe(1);
    expect(usage.stderr).toMatch(/missing required argument 'url'/);

    const invalid = await cli(["subscriptions", "create", "https://example.com/hook", "--event", "nope.nope"]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error: Validation failed \(422\): event_types\.0: unknown event type nope\.nope$/m);
    noStack(invalid.stderr);
  });

  it("prints no escape codes when stdout is not a terminal or NO_COLOR is set", async () => {
    await cliJson(["subscriptions", "create", "https://example.com/colour", "--event", "document.*"]);
    for (const env of [{}, { NO_COLOR: "1" }, { FORCE_COLOR: "1" }]) {
      const run = await cli(["subscriptions", "list"], env);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).not.toContain(ESC);
      const failed = await cli(["subscriptions", "get", "sub_nope"], env);
      expect(failed.stderr).not.toContain(ESC);
    }
  });

  it.runIf(spawnSync("script", ["--version"]).status === 0)("colours a terminal unless NO_COLOR is set", async () => {
    // `script` gives the CLI a pseudo-terminal as stdout, as an interactive shell would.
    const onTerminal = (env: Record<string, string | undefined>) =>
      new Promise<string>((resolvePromise) => {
        const child = spawn("script", ["-qec", `${join(bin, "hookline")} subscriptions list`, "/dev/null"], {
          env: userEnv({ HOOKLINE_URL: service.url, HOOKLINE_API_KEY: account.key, TERM: "xterm", ...env }),
        });
        let out = "";
        child.stdout.on("data", (c) => (out += c));
        child.on("close", () => resolvePromise(out));
      });
    expect(await onTerminal({})).toContain(`${ESC}[1m`);
    expect(await onTerminal({ NO_COLOR: "1" })).not.toContain(ESC);
  });

  it("the offline OpenAPI document the client types are generated from is the running service's", async () => {
    const served = await service.api("GET", "/openapi.json", { token: null });
    expect(served.status).toBe(200);
    expect(await openapiDocument()).toEqual(served.json);
  });
});

// ---- webhook listen ----

interface Listener {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  stderr: () => string;
  nextLines(count: number, timeoutMs?: number): Promise<string[]>;
  waitForStderr(pattern: RegExp, timeoutMs?: number): Promise<void>;
  exited: Promise<number | null>;
}

/** Spawns a command (argv, or a bash pipeline in its own process group) and follows its stdout line by line. */
function follow(command: string[] | string, key: string): Listener {
  const env = userEnv({ HOOKLINE_URL: service.url, HOOKLINE_API_KEY: key });
  // Each in its own process group, as a shell runs a job: a signal to the group reaches a whole pipeline.
  const child =
    typeof command === "string"
      ? spawn("bash", ["-o", "pipefail", "-c", command], { env, detached: true })
      : spawn(join(bin, command[0]), command.slice(1), { env, detached: true });
  children.add(child);
  const lines: string[] = [];
  let partial = "";
  let stderr = "";
  const wake = new Set<() => void>();
  child.stdout.on("data", (chunk) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    lines.push(...parts);
    wake.forEach((w) => w());
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
    wake.forEach((w) => w());
  });
  const exited = new Promise<number | null>((r) =>
    child.on("close", (code) => {
      children.delete(child);
      wake.forEach((w) => w());
      r(code);
    }),
  );
  const waitFor = (ok: () => boolean, what: () => string, timeoutMs: number) =>
    new Promise<void>((resolvePromise, reject) => {
      const check = () => {
        if (!ok()) return;
        clearTimeout(timer);
        wake.delete(check);
        resolvePromise();
      };
      const timer = setTimeout(() => {
        wake.delete(check);
        reject(new Error(`${what()}; stderr so far:\n${stderr}`));
      }, timeoutMs);
      wake.add(check);
      check();
    });
  let read = 0;
  return {
    child,
    lines,
    stderr: () => stderr,
    exited,
    async nextLines(count, timeoutMs = 20_000) {
      await waitFor(() => lines.length >= read + count, () => `got ${lines.length - read} of ${count} lines`, timeoutMs);
      const got = lines.slice(read, read + count);
      read += count;
      return got;
    },
    waitForStderr: (pattern, timeoutMs = 20_000) => waitFor(() => pattern.test(stderr), () => `no ${pattern} on stderr`, timeoutMs),
  };
}

const CONNECTED = /connected: waiting for deliveries/;

describe("webhook listen", () => {
  it("prints each real delivery as one JSON line on stdout, nothing else there, and acknowledges it", async () => {
    const user = await newAccount("listen-lines", "owner@smartshape.io");
    const listener = follow(["hookline", "webhook", "listen", "--event", "attribute_updated", "--event", "file_uploaded"], user.key);
    await listener.waitForStderr(CONNECTED);
    const subs = await listenSubscriptions(user.key);
    expect(subs).toHaveLength(2);

    const first = await emit(user.id, "attribute_updated", "5c6aeed079bf3f432d3c929e", {
      user: { email: "patrick.star@smartshape.io" },
      nodeIdToAttributes: { "5b337c601e24e904da827738": { "my attribute": "myValue 42" } },
    });
    const [line1] = await listener.nextLines(1);
    const second = await emit(user.id, "file_uploaded", "5c6fb52c194afb281976f5e4", { name: "line\nbreak.scene", size: 6581919 });
    const [line2] = await listener.nextLines(1);
    await emit(user.id, "annotation_created", "f", {}); // not listened to

    const one = JSON.parse(line1);
    expect(one).toEqual({
      file: "5c6aeed079bf3f432d3c929e",
      event: "attribute_updated",
      data: { user: { email: "patrick.star@smartshape.io" }, nodeIdToAttributes: { "5b337c601e24e904da827738": { "my attribute": "myValue 42" } } },
      owner: "owner@smartshape.io",
      runTimestamp: expect.any(Number),
      uuid: first.replace(/^evt_/, ""),
    });
    expect(JSON.parse(line2)).toMatchObject({ event: "file_uploaded", data: { name: "line\nbreak.scene" }, uuid: second.replace(/^evt_/, "") });

    // Each acknowledgement is recorded as a successful attempt of the smartshape rule.
    const event = await until("the delivery to be delivered", async () => {
      const res = await service.api("GET", `/v1/events/${first}`, { token: user.key });
      return res.json.deliveries[0]?.status === "delivered" && res.json;
    });
    const delivery = await service.api("GET", `/v1/deliveries/${event.deliveries[0].id}`, { token: user.key });
    expect(delivery.json.attempts).toMatchObject([{ number: 1, outcome: "success", status_code: 200 }]);

    listener.child.kill("SIGINT");
    expect(await listener.exited).toBe(0);
    expect(listener.lines.filter((l) => l !== "")).toHaveLength(2); // stdout held the two payloads and nothing else
  });

  it.runIf(HAS_JQ)("runs the seed's `smartshape-cli webhook listen --event attribute_updated | jq --unbuffered -rc ...` pipeline", async () => {
    const user = await newAccount("listen-jq", "test@smartshape.io");
    const pipeline = `smartshape-cli webhook listen --event attribute_updated \\
    | jq --unbuffered -rc '
        [
            [.file],
            [.runTimestamp / 1000 | todateiso8601],
            [.data.nodeIdToAttributes | to_entries[] | select(.value | has("mtime") | not) | .key]
        ]
        | combinations
        | join(" ")
    '`;
    const listener = follow(pipeline, user.key);
    await listener.waitForStderr(CONNECTED);
    const eventTime = Date.parse("2026-01-02T03:04:05Z");
    const res = await service.api("POST", "/v1/events", {
      body: {
        account_id: user.id,
        type: "attribute_updated",
        subject: "5c6aeed079bf3f432d3c929e",
        timestamp: new Date(eventTime).toISOString(),
        data: {
          user: { email: "test@smartshape.io" },
          nodeIdToAttributes: { node_a: { color: "red" }, node_b: { mtime: "2019-01-01" }, node_c: { size: "3" } },
        },
      },
    });
    expect(res.status, res.text).toBe(202);
    const lines = await listener.nextLines(2);
    expect(lines).toEqual(["5c6aeed079bf3f432d3c929e 2026-01-02T03:04:05Z node_a", "5c6aeed079bf3f432d3c929e 2026-01-02T03:04:05Z node_c"]);

    // Ctrl-C in the terminal reaches the whole pipeline; the CLI deletes its subscriptions.
    process.kill(-listener.child.pid!, "SIGINT");
    await listener.exited;
    expect(await listenSubscriptions(user.key)).toEqual([]);
  });

  it("deletes its subscriptions on SIGINT and on SIGTERM, and when its stdout is closed (| head -n 1)", async () => {
    const user = await newAccount("listen-cleanup");
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const listener = follow(["hookline", "webhook", "listen", "--event", "document.*", "--format", "standard"], user.key);
      await listener.waitForStderr(CONNECTED);
      const subs = await listenSubscriptions(user.key);
      expect(subs).toHaveLength(1);
      listener.child.kill(signal);
      expect(await listener.exited).toBe(0);
      expect(listener.stderr()).toMatch(/closed lsn_\S+: its subscriptions are deleted/);
      expect(await listenSubscriptions(user.key)).toEqual([]);
      const sub = await service.api("GET", `/v1/subscriptions/${subs[0].id}`, { token: user.key });
      expect(sub.status).toBe(404);
    }

    const head = follow(`hookline webhook listen --event document.updated --format standard | head -n 1`, user.key);
    await head.waitForStderr(CONNECTED);
    await emit(user.id, "document.updated", "doc_1", { n: 1 });
    const [line] = await head.nextLines(1);
    expect(JSON.parse(line)).toMatchObject({ type: "document.updated", subject: "doc_1", data: { n: 1 } });
    // head has exited; the next write fails with EPIPE and the CLI cleans up.
    await emit(user.id, "document.updated", "doc_2", { n: 2 });
    expect(await head.exited).toBe(0);
    expect(head.stderr()).toMatch(/closed lsn_/);
    expect(await listenSubscriptions(user.key)).toEqual([]);
  });

  it("reconnects when the connection drops, with a new session if its session is gone, and keeps printing", async () => {
    const user = await newAccount("listen-reconnect");
    const listener = follow(["hookline", "webhook", "listen", "--event", "attribute_updated"], user.key);
    await listener.waitForStderr(CONNECTED);
    const first = /on (lsn_\S+);/.exec(listener.stderr())![1];
    // The session is closed under it (as when its lease ran out while the laptop slept): the server drops the socket.
    const closed = await service.api("DELETE", `/v1/listen/${first}`, { token: user.key });
    expect(closed.status, closed.text).toBe(204);
    // The server's close reaches the CLI when the session's object lets go of the socket (in local
    // workerd that has taken 10-15 s); listen-protocol.test.ts times the CLI's side exactly.
    await listener.waitForStderr(new RegExp(`session ${first} has expired; opening a new one`), 45_000);
    await listener.waitForStderr(/reconnected/);
    const second = [...listener.stderr().matchAll(/on (lsn_\S+);/g)].map((m) => m[1]);
    expect(second).toHaveLength(2);
    expect(second[1]).not.toBe(first);

    await emit(user.id, "attribute_updated", "after-reconnect", {});
    const [line] = await listener.nextLines(1);
    expect(JSON.parse(line)).toMatchObject({ file: "after-reconnect" });
    listener.child.kill("SIGINT");
    expect(await listener.exited).toBe(0);
    expect(await listenSubscriptions(user.key)).toEqual([]);
  });

  it("a fourth listen session of an account is refused with the problem's message", async () => {
    const user = await newAccount("listen-cap");
    const listeners = [1, 2, 3].map(() => follow(["hookline", "webhook", "listen", "--event", "attribute_updated"], user.key));
    await Promise.all(listeners.map((l) => l.waitForStderr(CONNECTED)));
    const fourth = await cli(["webhook", "listen", "--event", "attribute_updated"], { HOOKLINE_API_KEY: user.key });
    expect(fourth.code).toBe(1);
    expect(fourth.stderr).toMatch(/^error: Forbidden \(403\): .*3 listen sessions/m);
    noStack(fourth.stderr);
    for (const l of listeners) l.child.kill("SIGTERM");
    expect(await Promise.all(listeners.map((l) => l.exited))).toEqual([0, 0, 0]);
    expect(await listenSubscriptions(user.key)).toEqual([]);
  });

  it("after a SIGKILL its subscriptions stay until the session's lease runs out, then are deleted", async () => {
    const user = await newAccount("listen-killed");
    const listener = follow(["hookline", "webhook", "listen", "--event", "attribute_updated"], user.key);
    await listener.waitForStderr(CONNECTED);
    expect(await listenSubscriptions(user.key)).toHaveLength(1);
    await sleep(LEASE_SECONDS * 1000 + 1000); // a live listener keeps its session past the lease
    expect(await listenSubscriptions(user.key)).toHaveLength(1);

    const killedAt = Date.now();
    listener.child.kill("SIGKILL");
    await listener.exited;
    expect(await listenSubscriptions(user.key)).toHaveLength(1); // nobody cleaned up
    await until("the lease to delete the subscriptions", async () => (await listenSubscriptions(user.key)).length === 0, 30_000);
    expect(Date.now() - killedAt).toBeGreaterThanOrEqual(LEASE_SECONDS * 1000 - 500);
  });

  it("--forward-to posts each delivery with its headers to a local receiver, whose answer decides: a 500 is retried", async () => {
    const user = await newAccount("listen-forward");
    let secret = "";
    const receiver = await startReceiver(async (req, n, res) => {
      // The seed's Express receiver: bcrypt check of the token, then 200 {success: true}; the first call fails.
      if (n === 1) return answer(res, 500, { error: "first call fails" });
      if (!(await compare(secret, req.headers["x-smartshape-token"] ?? ""))) return answer(res, 400, { success: false });
      answer(res, 200, { success: true });
    });
    receivers.push(receiver);
    const listener = follow(["hookline", "webhook", "listen", "--event", "attribute_updated", "--forward-to", `${receiver.url}/callback`], user.key);
    await listener.waitForStderr(CONNECTED);
    secret = /this session's signing secret: (\S+)/.exec(listener.stderr())![1];

    const eventId = await emit(user.id, "attribute_updated", "file_1", { nodeIdToAttributes: {} });
    const [first, retry] = await receiver.waitFor(2);
    expect(retry.body).toBe(first.body);
    expect(JSON.parse(first.body)).toMatchObject({ event: "attribute_updated", file: "file_1", uuid: eventId.replace(/^evt_/, "") });
    expect(first.path).toBe("/callback");
    expect(first.headers["content-type"]).toBe("application/json");
    expect(retry.headers["x-smartshape-token"]).toMatch(/^\$2[aby]\$10\$/);

    const event = await until("the retry to succeed", async () => {
      const res = await service.api("GET", `/v1/events/${eventId}`, { token: user.key });
      return res.json.deliveries[0]?.status === "delivered" && res.json;
    });
    const delivery = await service.api("GET", `/v1/deliveries/${event.deliveries[0].id}`, { token: user.key });
    expect(delivery.json.attempts).toMatchObject([
      { number: 1, outcome: "http_status", status_code: 500 },
      { number: 2, outcome: "success", status_code: 200 },
    ]);
    expect(listener.lines).toEqual([]); // forwarding prints nothing on stdout
    expect(listener.stderr()).toMatch(/-> POST \S+\/callback 500/);
    expect(listener.stderr()).toMatch(/attempt 2 -> POST \S+\/callback 200/);

    listener.child.kill("SIGINT");
    expect(await listener.exited).toBe(0);
    expect(await listenSubscriptions(user.key)).toEqual([]);
  });
});
