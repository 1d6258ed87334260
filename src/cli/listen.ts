/// <reference types="node" />
/**
 * `webhook listen`: deliveries without a tunnel. The CLI opens a listen session
 * (POST /v1/listen: one temporary subscription per event type), connects out to the
 * session's WebSocket, and for each delivery either prints the payload as one JSON line
 * on stdout or POSTs it to --forward-to; then it acknowledges with the answer (its own
 * 200 `{"success": true}`, or the forward target's), which the service records and judges
 * like any endpoint's. Notices go to stderr only, so stdout can feed jq.
 *
 * It pings every 15 s (less when the session's lease is shorter), reconnects when the
 * socket drops (opening a new session if the old one has expired meanwhile), and on
 * Ctrl-C, SIGTERM, SIGHUP or a closed stdout deletes the session (DELETE /v1/listen/{id}),
 * which deletes its subscriptions. If the CLI dies without that, the service deletes them
 * once the session's lease runs out.
 */
import WebSocket from "ws";
import type { components } from "../client/schema";
import type { Api } from "./api";
import { requireKey } from "./config";
import { CliError, colorEnabled, dim, errorMessage, green, notice, onStdoutClosed, red, yellow } from "./output";
import { VERSION } from "./version";

type ListenSession = components["schemas"]["ListenSession"];

export interface ListenOptions {
  events: string[];
  format: "standard" | "clara" | "clarife" | "smartshape";
  subjects?: string[];
  forwardTo?: string;
}

/** What the server sends for each delivery attempt. */
interface DeliveryMessage {
  type: "delivery";
  delivery_id: string;
  attempt?: number;
  headers?: Record<string, string>;
  body: string;
}

const FORWARD_TIMEOUT_MS = 10_000;
const MAX_ACK_BODY = 16 * 1024;
const MAX_BACKOFF_MS = 5_000;
const CLEANUP_TIMEOUT_MS = 5_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Headers of the connection, not of the delivery: fetch sets its own. */
const HOP_BY_HOP = new Set(["host", "content-length", "connection", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer", "expect"]);

/** The payload as one line: the body is compact JSON already; anything with a line break is re-serialized. */
export function payloadLine(body: string): string {
  if (!/[\r\n\u2028\u2029]/.test(body)) return body;
  try {
    return JSON.stringify(JSON.parse(body));
  } catch {
    return JSON.stringify(body);
  }
}

/** The event's type as each format names it (for notices). */
function eventTypeOf(body: string): string {
  try {
    const parsed = JSON.parse(body);
    const type = parsed?.type ?? parsed?.event;
    return typeof type === "string" ? type : "delivery";
  } catch {
    return "delivery";
  }
}

const stamp = () => new Date().toISOString().slice(11, 19);

export function websocketUrl(serviceUrl: string, connectPath: string): string {
  const url = new URL(connectPath, serviceUrl + "/");
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

/** Runs until stopped; resolves with the process's exit code. */
export function listen(api: Api, options: ListenOptions): Promise<number> {
  const apiKey = requireKey(api.config);
  const color = colorEnabled(process.stderr);
  const forwardTo = options.forwardTo;

  let session: ListenSession | null = null;
  let socket: WebSocket | null = null;
  let stopping = false;
  let everConnected = false;
  let opening: Promise<void> | null = null;
  let failures = 0;
  let pingTimer: NodeJS.Timeout | undefined;
  let reconnectTimer: NodeJS.Timeout | undefined;
  let lastPong = Date.now();
  let finish: (code: number) => void = () => {};
  const done = new Promise<number>((resolve) => (finish = resolve));

  const openSession = async () => {
    session = await api.call(
      api.client.POST("/v1/listen", {
        body: { event_types: options.events, format: options.format, ...(options.subjects?.length ? { subjects: options.subjects } : {}) },
      }),
    );
    const what = options.events.join(", ");
    notice(
      `${dim(color, stamp())} listening for ${what} (${options.format}) on ${session.id}` +
        (forwardTo ? `, forwarding to ${forwardTo}` : "") +
        "; Ctrl-C to stop",
    );
    if (forwardTo && session.subscriptions[0]) {
      // The forward target checks signatures like any receiver: it needs the session's secret
      // (one for all its subscriptions, new for every session).
      try {
        const { secret } = await api.call(
          api.client.GET("/v1/subscriptions/{id}/secret", { params: { path: { id: session.subscriptions[0].id } } }),
        );
        if (secret) notice(`${dim(color, stamp())} this session's signing secret: ${secret}`);
      } catch (err) {
        notice(`${dim(color, stamp())} could not read this session's signing secret (${errorMessage(err)})`);
      }
    }
  };

  const pingEveryMs = () => Math.min(15, Math.max(1, Math.floor((session?.lease_seconds ?? 60) / 4))) * 1000;

  const send = (ws: WebSocket, message: unknown) => {
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  };

  const ack = (ws: WebSocket, deliveryId: string, status: number, headers: Record<string, string>, body: string) =>
    send(ws, { type: "ack", delivery_id: deliveryId, status, headers, body: body.slice(0, MAX_ACK_BODY) });

  const printDelivery = (ws: WebSocket, delivery: DeliveryMessage) => {
    if (stopping) return;
    process.stdout.write(payloadLine(delivery.body) + "\n", (err) => {
      if (err) return; // the stream's 'error' handler stops the session; this delivery stays unacknowledged
      ack(ws, delivery.delivery_id, 200, { "content-type": "application/json" }, JSON.stringify({ success: true }));
    });
  };

  const forwardDelivery = async (ws: WebSocket, delivery: DeliveryMessage) => {
    const headers: Record<string, string> = { "content-type": "application/json", "user-agent": `hookline-cli/${VERSION}` };
    for (const [name, value] of Object.entries(delivery.headers ?? {})) {
      if (!HOP_BY_HOP.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
    }
    const label = `${eventTypeOf(delivery.body)} ${delivery.delivery_id}${delivery.attempt && delivery.attempt > 1 ? ` attempt ${delivery.attempt}` : ""}`;
    try {
      const res = await fetch(forwardTo!, {
        method: "POST",
        headers,
        body: delivery.body,
        redirect: "manual",
        signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
      });
      const text = await res.text();
      const paint = res.status >= 200 && res.status < 300 ? green : yellow;
      notice(`${dim(color, stamp())} ${label} -> POST ${forwardTo} ${paint(color, String(res.status))}`);
      ack(ws, delivery.delivery_id, res.status, Object.fromEntries(res.headers), text);
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const why = e.name === "TimeoutError" ? `no answer within ${FORWARD_TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.message);
      notice(`${dim(color, stamp())} ${label} -> POST ${forwardTo} ${red(color, `failed: ${why}`)}`);
      // Not a 2xx: the service records a failed attempt and retries on its schedule.
      ack(ws, delivery.delivery_id, 502, { "content-type": "text/plain" }, `hookline listen could not forward to ${forwardTo}: ${why}`);
    }
  };

  const onMessage = (ws: WebSocket, data: WebSocket.RawData) => {
    const text = data.toString();
    if (text === "pong") {
      lastPong = Date.now();
      return;
    }
    let message: DeliveryMessage;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    if (message?.type !== "delivery" || typeof message.delivery_id !== "string" || typeof message.body !== "string") return;
    if (forwardTo) void forwardDelivery(ws, message);
    else printDelivery(ws, message);
  };

  const scheduleReconnect = () => {
    if (stopping) return;
    clearTimeout(reconnectTimer);
    const delay = Math.min(MAX_BACKOFF_MS, 250 * 2 ** Math.min(failures, 5));
    failures++;
    reconnectTimer = setTimeout(() => void connect(), delay);
  };

  const fatal = (err: unknown) => {
    if (stopping) return;
    notice(`${red(color, "error:")} ${errorMessage(err)}`);
    void stop(1);
  };

  const connect = async () => {
    if (stopping) return;
    // One connection at a time: a connect already under way or open is left alone.
    if (opening || (socket && (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN))) return;
    try {
      if (!session) {
        opening = openSession();
        await opening;
      }
    } catch (err) {
      // 401/403/422 will not get better by retrying; the network might.
      if (err instanceof CliError) {
        notice(`${dim(color, stamp())} ${errorMessage(err)}; retrying`);
        scheduleReconnect();
      } else fatal(err);
      return;
    } finally {
      opening = null;
    }
    if (stopping) return;
    const current = session!;
    const ws = new WebSocket(websocketUrl(api.config.url, current.connect_url), {
      headers: { authorization: `Bearer ${apiKey}`, "user-agent": `hookline-cli/${VERSION}` },
      handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    });
    socket = ws;
    let handshakeRefused = false;

    ws.on("unexpected-response", (_req, res) => {
      handshakeRefused = true;
      let body = "";
      res.on("data", (chunk: Buffer) => (body += chunk));
      res.on("end", () => {
        ws.terminate();
        const status = res.statusCode ?? 0;
        let problem: { title?: string; detail?: string } | null = null;
        try {
          problem = JSON.parse(body);
        } catch {
          problem = null;
        }
        const why = problem?.title ? `${problem.title}${problem.detail ? `: ${problem.detail}` : ""}` : `HTTP ${status}`;
        if (status === 404) {
          // The session is gone (its lease ran out while we were away): start a new one.
          notice(`${dim(color, stamp())} session ${current.id} has expired; opening a new one`);
          session = null;
          failures = 0;
          scheduleReconnect();
        } else if (status === 401 || status === 403) {
          fatal(new CliError(`the service refused the connection: ${why}`));
        } else {
          notice(`${dim(color, stamp())} could not connect (${why}); retrying`);
          scheduleReconnect();
        }
      });
      res.on("error", () => {
        ws.terminate();
        notice(`${dim(color, stamp())} could not connect (HTTP ${res.statusCode}); retrying`);
        scheduleReconnect();
      });
    });

    ws.on("open", () => {
      if (socket !== ws || stopping) {
        ws.close(1000, "superseded");
        return;
      }
      failures = 0;
      lastPong = Date.now();
      if (everConnected) notice(`${dim(color, stamp())} reconnected`);
      else notice(`${dim(color, stamp())} connected: waiting for deliveries`);
      everConnected = true;
      clearInterval(pingTimer);
      const every = pingEveryMs();
      pingTimer = setInterval(() => {
        if (ws.readyState !== WebSocket.OPEN) return;
        // No pong for two intervals and more: the connection is dead without knowing it.
        if (Date.now() - lastPong > every * 2 + 5_000) {
          ws.terminate();
          return;
        }
        ws.send("ping");
      }, every);
    });

    ws.on("message", (data) => onMessage(ws, data));

    ws.on("error", (err) => {
      if (!stopping && !handshakeRefused && ws.readyState !== WebSocket.OPEN) {
        notice(`${dim(color, stamp())} cannot connect to ${api.config.url} (${(err as Error & { code?: string }).code ?? err.message}); retrying`);
      }
    });

    ws.on("close", (code, reason) => {
      if (socket === ws) clearInterval(pingTimer);
      if (stopping || handshakeRefused || socket !== ws) return;
      const why = reason.toString() || `code ${code}`;
      if (everConnected) notice(`${dim(color, stamp())} connection closed (${why}); reconnecting`);
      scheduleReconnect();
    });
  };

  async function stop(code: number): Promise<void> {
    if (stopping) return;
    stopping = true;
    clearTimeout(reconnectTimer);
    clearInterval(pingTimer);
    socket?.close(1000, "listener stopped");
    await opening?.catch(() => {}); // a session being opened right now is closed too
    let exitCode = code;
    if (session) {
      const id = session.id;
      try {
        await Promise.race([
          api.call(api.client.DELETE("/v1/listen/{id}", { params: { path: { id } } })),
          new Promise((_, reject) => setTimeout(() => reject(new CliError("the service did not answer")), CLEANUP_TIMEOUT_MS)),
        ]);
        notice(`${dim(color, stamp())} closed ${id}: its subscriptions are deleted`);
      } catch (err) {
        const status = (err as { status?: number }).status;
        if (status !== 404) {
          notice(
            `${red(color, "error:")} could not close ${id} (${errorMessage(err)}); the service deletes its subscriptions when its lease runs out`,
          );
          exitCode = exitCode || 1;
        }
      }
    }
    socket?.terminate();
    finish(exitCode);
  }

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1) process.exit(signal === "SIGINT" ? 130 : 143); // a second Ctrl-C: stop waiting for the cleanup
    void stop(0);
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  process.on("SIGHUP", onSignal);
  // A closed stdout (`| head -1`, jq killed) shows up as EPIPE on the next write.
  onStdoutClosed(() => void stop(0));

  // The first session must open: a wrong key or an unknown event type ends the command at once.
  return openSession().then(
    () => {
      void connect();
      return done;
    },
    (err) => {
      throw err;
    },
  );
}
