/**
 * One Durable Object per `webhook listen` session. It holds the CLI's WebSocket (with
 * the hibernation API: an idle session costs nothing), hands each delivery of the
 * session's subscriptions to the CLI and answers with the CLI's acknowledgement, so
 * the engine records it as the answer of any endpoint. When no CLI has been connected
 * for LISTEN_LEASE_SECONDS, it deletes the session's subscriptions.
 */
import { DurableObject } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { loadConfig } from "../config";
import { database } from "../db/client";
import { listenSessions, subscriptions } from "../db/schema";
import { skipPendingOfSession } from "./lifecycle";

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
    // Keep-alives are answered without waking the object.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  private get leaseMs() {
    return loadConfig(this.env).listenLeaseSeconds * 1000;
  }

  /** A new session: remember it, and give it one lease to get connected. */
  async open(sessionId: string): Promise<void> {
    await this.ctx.storage.put("session", sessionId);
    await this.ctx.storage.setAlarm(Date.now() + this.leaseMs);
  }

  async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const [client, server] = Object.values(new WebSocketPair());
    this.ctx.acceptWebSocket(server);
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Sends a delivery to the connected CLI and waits for its answer. */
  async deliver(delivery: ListenDelivery, timeoutMs: number): Promise<{ status: number; headers: Record<string, string>; body: string }> {
    const sockets = this.ctx.getWebSockets();
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

  async webSocketMessage(_ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
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
    ws.close(code === 1005 || code === 1006 ? 1000 : code, "closing");
    await this.ctx.storage.setAlarm(Date.now() + this.leaseMs);
  }

  async webSocketError(): Promise<void> {
    await this.ctx.storage.setAlarm(Date.now() + this.leaseMs);
  }

  /** The lease: a session with a live CLI is checked again later; one without is closed. */
  async alarm(): Promise<void> {
    const now = Date.now();
    const live = this.ctx
      .getWebSockets()
      .filter((ws) => (this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? now) > now - this.leaseMs * 2);
    if (live.length > 0) {
      const sessionId = await this.ctx.storage.get<string>("session");
      if (sessionId) {
        await database(this.env.DB)
          .update(listenSessions)
          .set({ expiresAt: now + this.leaseMs * 2 })
          .where(eq(listenSessions.id, sessionId));
      }
      await this.ctx.storage.setAlarm(now + this.leaseMs);
      return;
    }
    await this.close();
  }

  /** Deletes the session's subscriptions (their log stays) and forgets the session. */
  async close(): Promise<void> {
    const sessionId = await this.ctx.storage.get<string>("session");
    if (sessionId) await closeSession(this.env, sessionId);
    for (const ws of this.ctx.getWebSockets()) ws.close(1000, "session closed");
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
  }
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
