/// <reference types="node" />
/**
 * `webhook listen`: deliveries without a tunnel. The CLI opens a listen session
 * (listen-session.ts), connects out to the session's WebSocket, and hands each delivery
 * to listen-deliveries.ts, which prints it or forwards it and acknowledges with the answer.
 * Notices go to stderr only, so stdout can feed jq.
 *
 * It sends a heartbeat every 15 s (a quarter of the session's lease when that is shorter):
 * the service closes a socket it has not heard from for a lease. It reconnects when the
 * socket drops (opening a new session if the old one has expired meanwhile), stops when
 * the service closes the session for good (its key revoked), and on
 * Ctrl-C, SIGTERM, SIGHUP or a closed stdout deletes the session (DELETE /v1/listen/{id}),
 * which deletes its subscriptions. If the CLI dies without that, the service deletes them
 * once the session's lease runs out.
 */
import WebSocket from "ws";
import { HEARTBEAT, LISTEN_CLOSE } from "../core/listen-lease";
import type { Api } from "./api";
import { requireKey } from "./config";
import { forwardDelivery, parseClose, parseDelivery, printDelivery } from "./listen-deliveries";
import {
  announceSession,
  closeListenSession,
  createListenSession,
  type ListenOptions,
  type ListenSession,
  timestamped,
  websocketUrl,
} from "./listen-session";
import { CliError, colorEnabled, errorMessage, notice, onStdoutClosed, red } from "./output";
import { VERSION } from "./version";

export type { ListenOptions } from "./listen-session";
export { payloadLine } from "./listen-deliveries";
export { websocketUrl } from "./listen-session";

const MAX_BACKOFF_MS = 5_000;
const HANDSHAKE_TIMEOUT_MS = 10_000;

/** Runs until stopped; resolves with the process's exit code. */
export function listen(api: Api, options: ListenOptions): Promise<number> {
  const apiKey = requireKey(api.config);
  const color = colorEnabled(process.stderr);
  const say = timestamped(color);
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
    // Kept before it is announced, so that stopping meanwhile still deletes it.
    session = await createListenSession(api, options);
    await announceSession(api, session, options, say);
  };

  const pingEveryMs = () => Math.min(15, Math.max(1, Math.floor((session?.lease_seconds ?? 60) / 4))) * 1000;

  const onMessage = (ws: WebSocket, data: WebSocket.RawData) => {
    const text = data.toString();
    if (text === HEARTBEAT.response) {
      lastPong = Date.now();
      return;
    }
    const closing = parseClose(text);
    if (closing) return onServerClose(ws, closing.code, closing.reason);
    const delivery = parseDelivery(text);
    if (!delivery) return;
    if (forwardTo) void forwardDelivery(ws, delivery, forwardTo, color, say);
    else if (!stopping) printDelivery(ws, delivery);
  };

  /** The service closes the socket and says why; a revoked key ends the command (its session is gone already). */
  const onServerClose = (ws: WebSocket, code: number, why: string) => {
    if (code !== LISTEN_CLOSE.revoked || stopping || socket !== ws) return;
    const id = session?.id ?? "the session";
    session = null;
    fatal(new CliError(`the service closed ${id}: ${why}`));
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
        say(`${errorMessage(err)}; retrying`);
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
          say(`session ${current.id} has expired; opening a new one`);
          session = null;
          failures = 0;
          scheduleReconnect();
        } else if (status === 401 || status === 403) {
          fatal(new CliError(`the service refused the connection: ${why}`));
        } else {
          say(`could not connect (${why}); retrying`);
          scheduleReconnect();
        }
      });
      res.on("error", () => {
        ws.terminate();
        say(`could not connect (HTTP ${res.statusCode}); retrying`);
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
      if (everConnected) say("reconnected");
      else say("connected: waiting for deliveries");
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
        ws.send(HEARTBEAT.request);
      }, every);
    });

    ws.on("message", (data) => onMessage(ws, data));

    ws.on("error", (err) => {
      if (!stopping && !handshakeRefused && ws.readyState !== WebSocket.OPEN) {
        say(`cannot connect to ${api.config.url} (${(err as Error & { code?: string }).code ?? err.message}); retrying`);
      }
    });

    ws.on("close", (code, reason) => {
      if (socket === ws) clearInterval(pingTimer);
      if (stopping || handshakeRefused || socket !== ws) return;
      const why = reason.toString() || `code ${code}`;
      if (code === LISTEN_CLOSE.revoked) return onServerClose(ws, code, why);
      if (everConnected) say(`connection closed (${why}); reconnecting`);
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
    if (session && !(await closeListenSession(api, session.id, color, say))) exitCode = exitCode || 1;
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
