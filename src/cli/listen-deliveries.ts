/// <reference types="node" />
/**
 * `webhook listen`'s part for each delivery: print the payload as one JSON line on stdout,
 * or POST it to --forward-to; then acknowledge over the socket with the answer (our own
 * 200 `{"success": true}`, or the forward target's), which the service judges like any
 * endpoint's answer.
 */
import WebSocket from "ws";
import { green, red, yellow } from "./output";
import { VERSION } from "./version";

/** What the server sends for each delivery attempt. */
export interface DeliveryMessage {
  type: "delivery";
  delivery_id: string;
  attempt?: number;
  headers?: Record<string, string>;
  body: string;
}

/** A notice on stderr, after the time of day. */
export type Say = (text: string) => void;

const FORWARD_TIMEOUT_MS = 10_000;
const MAX_ACK_BODY = 16 * 1024;
/** Headers of the connection, not of the delivery: fetch sets its own. */
const HOP_BY_HOP = new Set(["host", "content-length", "connection", "transfer-encoding", "keep-alive", "upgrade", "te", "trailer", "expect"]);

/** A socket message that is a delivery, or null for anything else (ignored). */
export function parseDelivery(text: string): DeliveryMessage | null {
  let message: DeliveryMessage;
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (message?.type !== "delivery" || typeof message.delivery_id !== "string" || typeof message.body !== "string") return null;
  return message;
}

/** The service's word that it is closing the socket, and why (sent just before the close frame). */
export function parseClose(text: string): { code: number; reason: string } | null {
  let message: { type?: unknown; code?: unknown; reason?: unknown };
  try {
    message = JSON.parse(text);
  } catch {
    return null;
  }
  if (message?.type !== "close" || typeof message.code !== "number") return null;
  return { code: message.code, reason: typeof message.reason === "string" ? message.reason : `code ${message.code}` };
}

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

function ack(ws: WebSocket, deliveryId: string, status: number, headers: Record<string, string>, body: string): void {
  if (ws.readyState !== WebSocket.OPEN) return;
  ws.send(JSON.stringify({ type: "ack", delivery_id: deliveryId, status, headers, body: body.slice(0, MAX_ACK_BODY) }));
}

/** Prints the payload on stdout and acknowledges it once written. */
export function printDelivery(ws: WebSocket, delivery: DeliveryMessage): void {
  process.stdout.write(payloadLine(delivery.body) + "\n", (err) => {
    if (err) return; // the stream's 'error' handler stops the session; this delivery stays unacknowledged
    ack(ws, delivery.delivery_id, 200, { "content-type": "application/json" }, JSON.stringify({ success: true }));
  });
}

/** POSTs the delivery to `forwardTo` and acknowledges with its answer (a 502 when there is none). */
export async function forwardDelivery(ws: WebSocket, delivery: DeliveryMessage, forwardTo: string, color: boolean, say: Say): Promise<void> {
  const headers: Record<string, string> = { "content-type": "application/json", "user-agent": `hookline-cli/${VERSION}` };
  for (const [name, value] of Object.entries(delivery.headers ?? {})) {
    if (!HOP_BY_HOP.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
  }
  const label = `${eventTypeOf(delivery.body)} ${delivery.delivery_id}${delivery.attempt && delivery.attempt > 1 ? ` attempt ${delivery.attempt}` : ""}`;
  try {
    const res = await fetch(forwardTo, {
      method: "POST",
      headers,
      body: delivery.body,
      redirect: "manual",
      signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS),
    });
    const text = await res.text();
    const paint = res.status >= 200 && res.status < 300 ? green : yellow;
    say(`${label} -> POST ${forwardTo} ${paint(color, String(res.status))}`);
    ack(ws, delivery.delivery_id, res.status, Object.fromEntries(res.headers), text);
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    const why = e.name === "TimeoutError" ? `no answer within ${FORWARD_TIMEOUT_MS / 1000} s` : (e.cause?.code ?? e.message);
    say(`${label} -> POST ${forwardTo} ${red(color, `failed: ${why}`)}`);
    // Not a 2xx: the service records a failed attempt and retries on its schedule.
    ack(ws, delivery.delivery_id, 502, { "content-type": "text/plain" }, `hookline listen could not forward to ${forwardTo}: ${why}`);
  }
}
