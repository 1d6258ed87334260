/**
 * One Durable Object per `webhook listen` session. It holds the CLI's WebSocket (with
 * the hibernation API: an idle session costs nothing), hands each delivery of the
 * session's subscriptions to the CLI and answers with the CLI's acknowledgement, so
 * the engine records it as the answer of any endpoint. A socket keeps the session's
 * lease only while it is heard from (heartbeats, acknowledgements) and while the API key
 * it came with exists; when no socket has kept it for LISTEN_LEASE_SECONDS, or the key
 * that opened the session is revoked, it deletes the session's subscriptions.
 */
import { DurableObject } from "cloudflare:workers";
import { eq, inArray, sql } from "drizzle-orm";
import { loadConfig } from "../config";
import { HEARTBEAT, LISTEN_CLOSE, leaseVerdict } from "../core/listen-lease";
import { database, sqlAll } from "../db/client";
import { allShards, control, livesHereSql, shardEnv, shardOf } from "../db/shards";
import { apiKeys, listenSessions, subscriptions } from "../db/schema";
import { skipPendingOfSession } from "./lifecycle";

/** Set by the API's connect route (never taken from the client): the key the socket came with. */
export const LISTEN_KEY_HEADER = "x-hookline-listen-key-id";

/** What the object remembers of each socket across hibernation. */
interface SocketState {
  keyId: string | null;
  /** When a real message (not a heartbeat) last came, or the socket connected. */
  heardAt: number;
}

export interface ListenDelivery {
  delivery_id: string;
  attempt: number;
  headers: Record<string, string>;
  body: string;
}

interface Ack {
  type: "ack";
  delivery_id: string;
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export class ListenSession extends DurableObject<Env> {
  private waiting = new Map<string, (ack: Ack) => void>();

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    // Heartbeats are answered without waking the object; their time is kept per socket.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT.request, HEARTBEAT.response));
  }

  /** The view of the shard its session was opened on (0 for a session opened before shards were recorded). */
  private async shard() {
    return shardEnv(this.env, (await this.ctx.storage.get<number>("shard")) ?? 0);
  }

  /**
   * Extends the session's row, on the shard its account lives on. That is the shard it was opened
   * on, as a rule: one guarded UPDATE. After a move of its account (delivery/account-move) the
   * row is on the new shard, found there and remembered. While a move holds the account nothing is
   * written: the lease written before covers the next look.
   */
  private async extendLease(sessionId: string, expiresAt: number): Promise<void> {
    const opened = await this.shard();
    if (await leaseOn(opened, sessionId, expiresAt)) return;
    for (const s of allShards(this.env)) {
      if (s.DB === opened.DB || !(await leaseOn(s, sessionId, expiresAt))) continue;
      await this.ctx.storage.put("shard", shardOf(s));
      return;
    }
  }

  private get leaseMs() {
    return loadConfig(this.env).listenLeaseSeconds * 1000;
  }

  /** A new session: remember it, the key that opened it and its account's shard, and give it one lease to get connected. */
  async open(sessionId: string, keyId?: string, shard = 0): Promise<void> {
    await this.ctx.storage.put({ session: sessionId, shard, ...(keyId ? { key: keyId } : {}) });
    await this.ctx.storage.setAlarm(Date.now() + this.leaseMs);
  }

  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    server.serializeAttachment({ keyId: request.headers.get(LISTEN_KEY_HEADER) || null, heardAt: Date.now() } satisfies SocketState);
    // An earlier alarm may be far off (set for a session nobody had connected to): look at this socket within a lease.
    const alarm = await this.ctx.storage.getAlarm();
    if (alarm === null || alarm > Date.now() + this.leaseMs) await this.ctx.storage.setAlarm(Date.now() + this.leaseMs);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Sends a delivery to the connected CLI and waits for its answer. */
  async deliver(delivery: ListenDelivery, timeoutMs: number): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const sockets = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    if (sockets.length === 0) return { status: 503, headers: {}, body: "no listener is connected to this session" };
    const ack = new Promise<Ack>((resolve) => this.waiting.set(delivery.delivery_id, resolve));
    sockets[sockets.length - 1].send(JSON.stringify({ type: "delivery", ...delivery }));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    const answer = await Promise.race([ack, timeout]);
    clearTimeout(timer);
    this.waiting.delete(delivery.delivery_id);
    if (!answer) return { status: 504, headers: {}, body: `the listener did not answer within ${timeoutMs} ms` };
    return { status: answer.status, headers: answer.headers ?? {}, body: answer.body ?? "" };
  }

  async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    const state = ws.deserializeAttachment() as SocketState | null;
    ws.serializeAttachment({ keyId: state?.keyId ?? null, heardAt: Date.now() } satisfies SocketState);
    if (typeof message !== "string") return;
    let ack: Ack;
    try {
      ack = JSON.parse(message);
    } catch {
      return;
    }
    if (ack?.type === "ack" && typeof ack.delivery_id === "string" && Number.isInteger(ack.status)) {
      this.waiting.get(ack.delivery_id)?.(ack);
    }
  }

  async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    } catch {
      // closed from this side already
    }
    await this.graceAfterDisconnect();
  }

  async webSocketError(): Promise<void> {
    await this.graceAfterDisconnect();
  }

  /** A CLI that lost its connection gets one lease to come back (unless the session is already gone). */
  private async graceAfterDisconnect(): Promise<void> {
    if (await this.ctx.storage.get<string>("session")) await this.ctx.storage.setAlarm(Date.now() + this.leaseMs);
  }

  /** When this socket was last heard from: a heartbeat (answered without waking us) or a message. */
  private lastHeard(ws: WebSocket): number {
    const heartbeat = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
    return Math.max(heartbeat, (ws.deserializeAttachment() as SocketState | null)?.heardAt ?? 0);
  }

  /**
   * The lease: sockets not heard from for a lease, or whose key is gone, are closed; the
   * session lives on while one socket is left, and is closed once none is (or its key is gone).
   */
  async alarm(): Promise<void> {
    const now = Date.now();
    const [sessionId, openerKey] = await Promise.all([this.ctx.storage.get<string>("session"), this.ctx.storage.get<string>("key")]);
    // Sockets closed from this side but not yet by the peer are no longer anyone's.
    const sockets = this.ctx.getWebSockets().filter((ws) => ws.readyState === WebSocket.OPEN);
    const keyOf = (ws: WebSocket) => (ws.deserializeAttachment() as SocketState | null)?.keyId ?? null;
    const keyIds = [...new Set([openerKey, ...sockets.map(keyOf)].filter((k): k is string => !!k))];
    const existing = keyIds.length
      ? new Set((await database(control(this.env)).select({ id: apiKeys.id }).from(apiKeys).where(inArray(apiKeys.id, keyIds))).map((k) => k.id))
      : new Set<string>();
    if (openerKey && !existing.has(openerKey)) return this.close(LISTEN_CLOSE.revoked, "the API key that opened this session was revoked");
    const verdict = leaseVerdict(sockets.map((ws) => this.lastHeard(ws)), now, this.leaseMs);
    const live: WebSocket[] = [];
    sockets.forEach((ws, i) => {
      const key = keyOf(ws);
      if (key && !existing.has(key)) closeSocket(ws, LISTEN_CLOSE.revoked, "the API key of this connection was revoked");
      else if (verdict.silent.includes(i)) closeSocket(ws, LISTEN_CLOSE.silent, `nothing heard for ${this.leaseMs / 1000} s: lease lost`);
      else live.push(ws);
    });
    if (live.length === 0 || verdict.recheckAt === null) return this.close();
    if (sessionId) {
      // The sweep's safety net leaves a session alone while a CLI keeps it.
      await this.extendLease(sessionId, now + this.leaseMs * 2);
    }
    await this.ctx.storage.setAlarm(verdict.recheckAt);
  }

  /** An API key was revoked: the session goes if that key opened it, else only the sockets that came with it. */
  async revokeKey(keyId: string): Promise<void> {
    const opener = await this.ctx.storage.get<string>("key");
    if (opener === keyId) return this.close(LISTEN_CLOSE.revoked, "the API key that opened this session was revoked");
    // Opened before sessions recorded their key: it may be this one. The CLI reconnects with
    // its key, and opens a new session if that key is still valid.
    if (opener === undefined && (await this.ctx.storage.get<string>("session"))) return this.close(1000, "session closed: reconnect");
    let closed = false;
    for (const ws of this.ctx.getWebSockets()) {
      if ((ws.deserializeAttachment() as SocketState | null)?.keyId !== keyId) continue;
      closeSocket(ws, LISTEN_CLOSE.revoked, "the API key of this connection was revoked");
      closed = true;
    }
    if (closed) await this.ctx.storage.setAlarm(Date.now() + this.leaseMs);
  }

  /** Deletes the session's subscriptions (their log stays), closes its sockets and forgets the session. */
  async close(code: number = 1000, reason = "session closed"): Promise<void> {
    const sessionId = await this.ctx.storage.get<string>("session");
    // On every shard: a move may have copied the session to another one (close is rare).
    if (sessionId) await Promise.all(allShards(this.env).map((s) => closeSession(s, sessionId)));
    for (const ws of this.ctx.getWebSockets()) closeSocket(ws, code, reason);
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }
}

/**
 * Says why first, as a message: a client may see the close frame itself only once the TCP
 * connection ends, which proxies can hold up for seconds. Closing a socket the peer may
 * have closed already is not an error.
 */
function closeSocket(ws: WebSocket, code: number, reason: string): void {
  try {
    ws.send(JSON.stringify({ type: "close", code, reason }));
    ws.close(code, reason);
  } catch {
    // already closed
  }
}

/** Sets a session's lease where its account lives, not frozen; false when it is not there (db/shards livesHereSql). */
async function leaseOn(env: Env, sessionId: string, expiresAt: number): Promise<boolean> {
  const written = await sqlAll<{ id: string }>(env.DB, sql`
    UPDATE listen_sessions SET expires_at = ${expiresAt} WHERE id = ${sessionId}
      AND EXISTS (SELECT 1 FROM accounts a WHERE a.id = listen_sessions.account_id AND ${livesHereSql(env, "a")})
    RETURNING id`);
  return written.length > 0;
}

/** What ending a session means in D1; also the sweep's safety net for sessions whose object is gone. */
export async function closeSession(env: Env, sessionId: string): Promise<void> {
  const db = database(env.DB);
  const now = Date.now();
  await db.batch([
    skipPendingOfSession(env, sessionId, now),
    db.delete(subscriptions).where(eq(subscriptions.listenSessionId, sessionId)),
    db.delete(listenSessions).where(eq(listenSessions.id, sessionId)),
  ]);
}

export const listenSessionOf = (env: Env, sessionId: string) =>
  env.LISTEN_SESSION.get(env.LISTEN_SESSION.idFromName(sessionId));
