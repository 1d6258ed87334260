/**
 * A listen socket keeps its session only while its key exists and while it is heard from:
 * a revoked key closes what it opened at once, and the lease alarm drops a silent socket
 * (heartbeats count through the runtime's auto-response timestamps, without waking the object).
 */
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { emit, waitFor } from "./delivery-harness";
import { BASE, call, createAccount, expectProblem } from "./harness";

const LEASE_MS = 60_000; // wrangler.toml's LISTEN_LEASE_SECONDS: the tests move time back instead of waiting

async function connect(sessionId: string, key: string) {
  const res = await exports.default.fetch(`${BASE}/v1/listen/${sessionId}/connect`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const state = { messages: [] as string[], closed: null as null | { code: number; reason: string } };
  ws.addEventListener("message", (e) => state.messages.push(e.data as string));
  ws.addEventListener("close", (e) => (state.closed = { code: e.code, reason: e.reason }));
  return { ws, state };
}

async function open(key: string, eventType = "attribute_updated") {
  const res = await call("POST", "/v1/listen", { token: key, body: { event_types: [eventType] } });
  expect(res.status, res.text).toBe(201);
  return res.json.id as string;
}

const stubOf = (sessionId: string) => env.LISTEN_SESSION.get(env.LISTEN_SESSION.idFromName(sessionId));

/** Moves every socket's last real message back by `ms` (as if the time had passed). */
const backdate = (sessionId: string, ms: number) =>
  runInDurableObject(stubOf(sessionId), (_instance, state) => {
    for (const ws of state.getWebSockets()) {
      const attachment = ws.deserializeAttachment() as { heardAt: number } | null;
      if (attachment) ws.serializeAttachment({ ...attachment, heardAt: attachment.heardAt - ms });
    }
  });

const listenSubs = async (key: string) =>
  (await call("GET", "/v1/subscriptions", { token: key })).json.data.filter((s: any) => s.url.startsWith("listen://"));

describe("revoking a key", () => {
  it("closes the sessions it opened within seconds (4001), deletes their subscriptions and sends them nothing more", async () => {
    const { id: accountId, key } = await createAccount();
    const second = await call("POST", `/v1/accounts/${accountId}/keys`, { token: key });
    const keyId = (await call("GET", `/v1/accounts/${accountId}/keys`, { token: key })).json.data.find(
      (k: any) => k.id !== second.json.id,
    ).id;
    const session = await open(key);
    const kept = await open(second.json.key, "file_uploaded");
    const revokedSocket = await connect(session, key);
    const keptSocket = await connect(kept, second.json.key);

    expect((await call("DELETE", `/v1/accounts/${accountId}/keys/${keyId}`, { token: second.json.key })).status).toBe(204);
    expectProblem(await call("GET", "/v1/account", { token: key }), 401);
    const closed = await waitFor("the socket to close", async () => revokedSocket.state.closed, 5_000);
    expect(closed).toEqual({ code: 4001, reason: "the API key that opened this session was revoked" });
    expect((await listenSubs(second.json.key)).map((s: any) => s.url)).toEqual([`listen://${kept}`]);

    await emit(accountId, "attribute_updated", {});
    await emit(accountId, "file_uploaded", {});
    await waitFor("the kept session's delivery", async () => keptSocket.state.messages.length > 0);
    // Only the word that it closes, and why: no delivery.
    expect(revokedSocket.state.messages.map((m) => JSON.parse(m))).toEqual([
      { type: "close", code: 4001, reason: "the API key that opened this session was revoked" },
    ]);
    expect(keptSocket.state.closed).toBeNull();
    keptSocket.ws.close();
  });
});

describe("revoking a key, sessions opened before they recorded their key", () => {
  it("closes them with a code the CLI reconnects after (a still valid key opens a new session)", async () => {
    const { id: accountId, key } = await createAccount();
    const spare = await call("POST", `/v1/accounts/${accountId}/keys`, { token: key });
    const session = await open(key);
    const { state } = await connect(session, key);
    await runInDurableObject(stubOf(session), (_i, s) => s.storage.delete("key"));
    expect((await call("DELETE", `/v1/accounts/${accountId}/keys/${spare.json.id}`, { token: key })).status).toBe(204);
    expect(await waitFor("the socket to close", async () => state.closed)).toEqual({ code: 1000, reason: "session closed: reconnect" });
    expect(await listenSubs(key)).toEqual([]);
    expect((await call("POST", "/v1/listen", { token: key, body: { event_types: ["attribute_updated"] } })).status).toBe(201);
  });
});

describe("the lease", () => {
  it("a socket that never sends a heartbeat loses it: closed with 4000, and the session with it", async () => {
    const { key } = await createAccount();
    const session = await open(key);
    const { state } = await connect(session, key);
    await backdate(session, LEASE_MS + 1_000);
    expect(await runDurableObjectAlarm(stubOf(session))).toBe(true);
    const closed = await waitFor("the socket to close", async () => state.closed);
    expect(closed.code).toBe(4000);
    expect(closed.reason).toContain("lease lost");
    expect(await listenSubs(key)).toEqual([]);
    expectProblem(await call("DELETE", `/v1/listen/${session}`, { token: key }), 404);
  });

  it("a heartbeat keeps it, though no real message came for longer than a lease", async () => {
    const { key } = await createAccount();
    const session = await open(key);
    const { ws, state } = await connect(session, key);
    await backdate(session, LEASE_MS + 1_000);
    ws.send("ping");
    await waitFor("the pong", async () => state.messages.includes("pong"));
    expect(await runDurableObjectAlarm(stubOf(session))).toBe(true);
    expect(state.closed).toBeNull();
    expect((await listenSubs(key)).map((s: any) => s.url)).toEqual([`listen://${session}`]);
    // The next look comes within a lease of the heartbeat, not later.
    const alarm = await runInDurableObject(stubOf(session), (_i, s) => s.storage.getAlarm());
    expect(alarm).not.toBeNull();
    expect(alarm!).toBeLessThanOrEqual(Date.now() + LEASE_MS);
    ws.close();
  });

  it("a key revoked while the object missed it is found by the alarm", async () => {
    const { id: accountId, key } = await createAccount();
    const session = await open(key);
    const { state } = await connect(session, key);
    // Removed behind the API's back, as if telling the object had failed.
    await env.DB.prepare("DELETE FROM api_keys WHERE account_id = ?").bind(accountId).run();
    expect(await runDurableObjectAlarm(stubOf(session))).toBe(true);
    expect((await waitFor("the socket to close", async () => state.closed)).code).toBe(4001);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM subscriptions WHERE account_id = ?").bind(accountId).first("n")).toBe(0);
  });
});
