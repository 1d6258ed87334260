/// <reference types="node" />
/**
 * A listen socket's lease against the real service (a short LISTEN_LEASE_SECONDS): revoking
 * the key (or deleting the account) stops a connected `webhook listen` within seconds and its
 * session with it; a socket that sends no heartbeat loses the lease while the CLI's
 * heartbeats keep its own session.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type Service, startService } from "./service";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");
const LEASE_SECONDS = 4;
/** Generous: the machine may be busy; the states are what is checked, not how fast they came. */
const DEADLINE_MS = 60_000;

let service: Service;
const children = new Set<ChildProcessWithoutNullStreams>();

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "--js-only"], { encoding: "utf8" });
  expect(built.status, built.stderr).toBe(0);
  service = await startService({ RETRY_SCHEDULE: "1,1,1", DELIVERY_TIMEOUT_MS: "3000", LISTEN_LEASE_SECONDS: String(LEASE_SECONDS) });
});

afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await service?.stop();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => T | undefined | null | false | Promise<T | undefined | null | false>): Promise<T> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

async function newAccount(name: string) {
  const res = await service.api("POST", "/v1/accounts", { body: { name } });
  expect(res.status, res.text).toBe(201);
  const second = await service.api("POST", `/v1/accounts/${res.json.id}/keys`);
  return { id: res.json.id as string, key: res.json.api_key.key as string, keyId: res.json.api_key.id as string, otherKey: second.json.key as string };
}

/** `hookline webhook listen`, followed line by line. */
function listen(key: string, event: string) {
  const child = spawn(process.execPath, [CLI, "webhook", "listen", "--event", event], {
    env: { PATH: process.env.PATH, HOME: "/nonexistent", HOOKLINE_URL: service.url, HOOKLINE_API_KEY: key },
  });
  children.add(child);
  const out = { stdout: "", stderr: "", code: undefined as number | null | undefined };
  child.stdout.on("data", (c) => (out.stdout += c));
  child.stderr.on("data", (c) => (out.stderr += c));
  child.on("close", (code) => (children.delete(child), (out.code = code)));
  return { child, out };
}

const listenUrls = async (key: string) =>
  ((await service.api("GET", "/v1/subscriptions", { token: key })).json.data as { url: string }[])
    .map((s) => s.url)
    .filter((u) => u.startsWith("listen://"));

async function emit(accountId: string, type: string) {
  const res = await service.api("POST", "/v1/events", { body: { account_id: accountId, type, subject: "f1", data: {} } });
  expect(res.status, res.text).toBe(202);
  return res.json.data[0] as { id: string; deliveries: number };
}

describe("listen leases, end to end", () => {
  it("revoking the key stops a connected `webhook listen` within seconds; its session is gone and receives nothing", async () => {
    const user = await newAccount("revoked-listener");
    const listener = listen(user.key, "attribute_updated");
    await until("the listener to connect", () => /connected: waiting for deliveries/.test(listener.out.stderr));
    expect(await listenUrls(user.otherKey)).toHaveLength(1);

    const revoked = await service.api("DELETE", `/v1/accounts/${user.id}/keys/${user.keyId}`);
    expect(revoked.status, revoked.text).toBe(204);
    expect((await service.api("GET", "/v1/account", { token: user.key })).status).toBe(401);
    await until("the listener to stop", () => listener.out.code !== undefined);
    expect(listener.out.code).toBe(1);
    expect(listener.out.stderr).toMatch(/error: the service closed lsn_\S+: the API key that opened this session was revoked/);
    expect(await listenUrls(user.otherKey)).toEqual([]);
    expect((await emit(user.id, "attribute_updated")).deliveries).toBe(0);
    expect(listener.out.stdout).toBe("");
  });

  it("deleting the account stops its connected `webhook listen` with the reason", async () => {
    const user = await newAccount("deleted-listener");
    const listener = listen(user.key, "attribute_updated");
    await until("the listener to connect", () => /connected: waiting for deliveries/.test(listener.out.stderr));
    expect((await service.api("DELETE", `/v1/accounts/${user.id}`)).status).toBe(204);
    await until("the listener to stop", () => listener.out.code !== undefined);
    expect(listener.out.code).toBe(1);
    expect(listener.out.stderr).toMatch(/error: the service closed lsn_\S+: the account was deleted/);
    expect((await service.api("GET", `/v1/accounts/${user.id}`)).status).toBe(404);
  });

  it("a socket that sends no heartbeat loses its lease (4000, session deleted); the CLI's heartbeats keep its own", async () => {
    const user = await newAccount("silent-socket");
    const listener = listen(user.key, "attribute_updated");
    await until("the listener to connect", () => /connected: waiting for deliveries/.test(listener.out.stderr));

    // A client of the listen protocol that never sends a heartbeat (nor anything else).
    const opened = await service.api("POST", "/v1/listen", { token: user.key, body: { event_types: ["file_uploaded"] } });
    expect(opened.status, opened.text).toBe(201);
    const silent = new WebSocket(service.url.replace(/^http/, "ws") + opened.json.connect_url, {
      headers: { authorization: `Bearer ${user.key}` },
    });
    let closed: { code: number; reason: string } | null = null;
    silent.on("close", (code, reason) => (closed = { code, reason: reason.toString() }));
    await new Promise((resolve, reject) => silent.once("open", resolve).once("error", reject));

    const why = await until("the silent socket to lose its lease", () => closed);
    expect(why.code).toBe(4000);
    expect(why.reason).toMatch(/nothing heard for 4 s: lease lost/);
    expect((await service.api("DELETE", `/v1/listen/${opened.json.id}`, { token: user.key })).status).toBe(404);

    // The CLI has been connected for longer than a lease by now, and still is.
    expect(listener.out.stderr).not.toMatch(/connection closed|expired/);
    expect(await listenUrls(user.key)).toHaveLength(1);
    await emit(user.id, "attribute_updated");
    await until("the delivery on stdout", () => listener.out.stdout.includes('"event":"attribute_updated"'));
    listener.child.kill("SIGINT");
    await until("the listener to stop", () => listener.out.code !== undefined);
    expect(listener.out.code).toBe(0);
  });
});
