/// <reference types="node" />
/**
 * `webhook listen`'s side of the listen protocol, against a scripted stand-in for the
 * service (node:http + ws on 127.0.0.1), so that what is hard to make the real service do
 * on cue is exact here: the messages and acknowledgements, keep-alive pings, a dropped
 * connection, an expired session, a revoked key. cli.test.ts runs listen against the real service.
 */
import { type ChildProcessWithoutNullStreams, spawn, spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type WebSocket, WebSocketServer } from "ws";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const CLI = join(ROOT, "dist", "cli.js");
const KEY = "hl_test-key";

interface Session {
  id: string;
  body: any;
  sockets: WebSocket[];
  messages: string[];
  /** When each ping arrived (the fake service's clock). */
  pingsAt: number[];
}

let server: Server;
let url: string;
let sessions: Session[] = [];
let deleted: string[] = [];
let revoked = false;
let leaseSeconds = 60;
const children = new Set<ChildProcessWithoutNullStreams>();

const problem = (status: number, title: string, detail: string) => JSON.stringify({ type: "about:blank", title, status, detail });

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs"), "--js-only"], { encoding: "utf8" });
  expect(built.status, built.stderr).toBe(0);
  const wss = new WebSocketServer({ noServer: true });
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (c) => (text += c));
    req.on("end", () => {
      if (req.headers.authorization !== `Bearer ${KEY}`) {
        res.writeHead(401, { "content-type": "application/problem+json" }).end(problem(401, "Unauthorized", "the API key is not valid"));
        return;
      }
      if (req.method === "POST" && req.url === "/v1/listen") {
        const id = `lsn_${sessions.length + 1}`;
        sessions.push({ id, body: JSON.parse(text), sockets: [], messages: [], pingsAt: [] });
        res.writeHead(201, { "content-type": "application/json" }).end(
          JSON.stringify({ id, subscriptions: [], expires_at: new Date().toISOString(), lease_seconds: leaseSeconds, connect_url: `/v1/listen/${id}/connect` }),
        );
        return;
      }
      const del = /^\/v1\/listen\/(lsn_\d+)$/.exec(req.url ?? "");
      if (req.method === "DELETE" && del) {
        deleted.push(del[1]);
        res.writeHead(204).end();
        return;
      }
      res.writeHead(404, { "content-type": "application/problem+json" }).end(problem(404, "Not found", "no route"));
    });
  });
  server.on("upgrade", (req, socket, head) => {
    const match = /^\/v1\/listen\/(lsn_\d+)\/connect$/.exec(req.url ?? "");
    const session = sessions.find((s) => s.id === match?.[1] && !deleted.includes(s.id));
    const refuse = (status: number, title: string, detail: string) => {
      const body = problem(status, title, detail);
      socket.end(`HTTP/1.1 ${status} ${title}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
    };
    if (revoked || req.headers.authorization !== `Bearer ${KEY}`) return refuse(401, "Unauthorized", "the API key is not valid");
    if (!session) return refuse(404, "Not found", "Listen session not found");
    wss.handleUpgrade(req, socket, head, (ws) => {
      session.sockets.push(ws);
      ws.on("message", (data) => {
        const text = data.toString();
        session.messages.push(text);
        if (text === "ping") {
          session.pingsAt.push(Date.now());
          ws.send("pong");
        }
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterEach(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const s of sessions) for (const ws of s.sockets) ws.terminate();
  sessions = [];
  deleted = [];
  revoked = false;
  leaseSeconds = 60;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

function listen(args: string[] = []) {
  const child = spawn(process.execPath, [CLI, "webhook", "listen", "--event", "attribute_updated", ...args], {
    env: { PATH: process.env.PATH, HOME: "/nonexistent", HOOKLINE_URL: url, HOOKLINE_API_KEY: KEY },
  });
  children.add(child);
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (c) => (out.stdout += c));
  child.stderr.on("data", (c) => (out.stderr += c));
  const exited = new Promise<number | null>((r) => child.on("close", (code) => (children.delete(child), r(code))));
  return { child, out, exited };
}

const openSocket = (session: Session, count = 1) =>
  until(`connection ${count} to ${session.id}`, () => session.sockets.filter((s) => s.readyState === s.OPEN).length >= 1 && session.sockets.length >= count && session.sockets.at(-1)!);

const deliver = (ws: WebSocket, id: string, body: string, attempt = 1) =>
  ws.send(JSON.stringify({ type: "delivery", delivery_id: id, attempt, headers: { "x-smartshape-token": "$2b$10$x" }, body }));

const acks = (session: Session) => session.messages.filter((m) => m !== "ping").map((m) => JSON.parse(m));

describe("webhook listen, message by message", () => {
  it("opens a smartshape session, prints each delivery's body as one line, then acknowledges it with a SmartShape success", async () => {
    const { child, out, exited } = listen(["--event", "file_uploaded"]);
    const session = await until("the session", () => sessions[0]);
    expect(session.body).toEqual({ event_types: ["attribute_updated", "file_uploaded"], format: "smartshape" });
    const ws = await openSocket(session);

    const body = '{"file":"f1","event":"attribute_updated","data":{"a":"\\n"},"owner":"o","runTimestamp":1,"uuid":"u1"}';
    deliver(ws, "dlv_1", body);
    await until("the ack", () => acks(session).length === 1);
    expect(out.stdout).toBe(body + "\n");
    expect(acks(session)).toEqual([
      { type: "ack", delivery_id: "dlv_1", status: 200, headers: { "content-type": "application/json" }, body: '{"success":true}' },
    ]);

    // A body with raw line breaks still makes one line.
    deliver(ws, "dlv_2", '{\n  "file": "f2",\n  "event": "attribute_updated"\n}');
    await until("the second ack", () => acks(session).length === 2);
    expect(out.stdout.split("\n")).toEqual([body, '{"file":"f2","event":"attribute_updated"}', ""]);

    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(deleted).toEqual(["lsn_1"]);
    expect(out.stderr).not.toContain("error");
  });

  it("pings the service more often than the session's lease", async () => {
    leaseSeconds = 4; // pings every second
    const { child, exited } = listen();
    const session = await until("the session", () => sessions[0]);
    await openSocket(session);
    // Wait for the pings themselves, then check their spacing as the service saw it: a busy
    // machine may delay the wait, but a healthy CLI still pings well within the 4 s lease.
    await until("three pings", () => session.pingsAt.length >= 3, 20_000);
    const gaps = session.pingsAt.slice(1).map((t, i) => t - session.pingsAt[i]);
    for (const gap of gaps) expect(gap, `pings ${gaps.join(", ")} ms apart`).toBeLessThan(leaseSeconds * 1000);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it("reconnects to the same session when the connection drops, and keeps acknowledging", async () => {
    const { child, out, exited } = listen();
    const session = await until("the session", () => sessions[0]);
    const first = await openSocket(session);
    first.terminate();
    const second = await openSocket(session, 2);
    expect(session.sockets).toHaveLength(2);
    deliver(second, "dlv_after", '{"file":"after"}');
    await until("the ack", () => acks(session).length === 1);
    expect(out.stdout).toBe('{"file":"after"}\n');
    expect(out.stderr).toMatch(/connection closed \(code 1006\); reconnecting/);
    expect(out.stderr).toMatch(/reconnected/);
    expect(sessions).toHaveLength(1);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(deleted).toEqual(["lsn_1"]);
  });

  it("opens a new session when its session has expired meanwhile", async () => {
    const { child, out, exited } = listen();
    const session = await until("the session", () => sessions[0]);
    const ws = await openSocket(session);
    deleted.push(session.id); // the lease ran out while the connection was gone
    ws.terminate();
    const next = await until("a new session", () => sessions[1]);
    expect(next.body).toEqual(session.body);
    await openSocket(next);
    expect(out.stderr).toMatch(/session lsn_1 has expired; opening a new one/);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(deleted).toEqual(["lsn_1", "lsn_2"]);
  });

  it("stops with exit code 1 and the problem's message when the service refuses the key", async () => {
    const { out, exited } = listen();
    const session = await until("the session", () => sessions[0]);
    const ws = await openSocket(session);
    revoked = true;
    ws.terminate();
    expect(await exited).toBe(1);
    expect(out.stderr).toMatch(/error: the service refused the connection: Unauthorized: the API key is not valid/);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });

  it("stops at once when the service closes the session for a revoked key, without deleting it again", async () => {
    const { out, exited } = listen();
    const session = await until("the session", () => sessions[0]);
    const ws = await openSocket(session);
    const reason = "the API key that opened this session was revoked";
    ws.send(JSON.stringify({ type: "close", code: 4001, reason }));
    ws.close(4001, reason);
    expect(await exited).toBe(1);
    expect(out.stderr).toContain(`error: the service closed lsn_1: ${reason}\n`);
    expect(deleted).toEqual([]);
  });

  it("reconnects when the service closes a socket that lost its lease, with a new session if the old one is gone", async () => {
    const { child, out, exited } = listen();
    const session = await until("the session", () => sessions[0]);
    const ws = await openSocket(session);
    deleted.push(session.id);
    ws.send(JSON.stringify({ type: "close", code: 4000, reason: "nothing heard for 60 s: lease lost" }));
    ws.close(4000, "nothing heard for 60 s: lease lost");
    await openSocket(await until("a new session", () => sessions[1]));
    expect(out.stderr).toMatch(/connection closed \(nothing heard for 60 s: lease lost\); reconnecting/);
    child.kill("SIGINT");
    expect(await exited).toBe(0);
  });

  it("a refused first session ends the command at once", async () => {
    const child = spawn(process.execPath, [CLI, "webhook", "listen", "--event", "x"], {
      env: { PATH: process.env.PATH, HOME: "/nonexistent", HOOKLINE_URL: url, HOOKLINE_API_KEY: "hl_wrong" },
    });
    let stderr = "";
    child.stderr.on("data", (c) => (stderr += c));
    const code = await new Promise((r) => child.on("close", r));
    expect(code).toBe(1);
    expect(stderr).toBe("error: Unauthorized (401): the API key is not valid\n");
  });
});
