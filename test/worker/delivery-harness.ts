/** Helpers for delivery tests: emit, wait for the engine, read the receiver double's log. */
import { expect } from "vitest";
import { call } from "./harness";

export const RECEIVER = "https://receiver.test";

export interface Received {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

let n = 0;
/** A receiver url with a key of its own, so tests never read each other's requests. */
export function receiverUrl(behaviour: string): { url: string; key: string } {
  const key = `k${Date.now().toString(36)}${n++}`;
  return { url: `${RECEIVER}/${behaviour}/${key}`, key };
}

export async function received(key: string): Promise<Received[]> {
  const res = await fetch(`${RECEIVER}/__log/${key}`);
  return res.json();
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function emit(accountId: string, type = "document.updated", data: unknown = { id: "doc_1", title: "Q3 plan" }, extra: Record<string, unknown> = {}) {
  const res = await call("POST", "/v1/events", { body: { account_id: accountId, type, data, ...extra } });
  expect(res.status, res.text).toBe(202);
  return res.json.data[0] as { id: string; deliveries: number };
}

/** The event's deliveries once none is pending or in flight any more. */
export async function settledDeliveries(eventId: string, token?: string, timeoutMs?: number) {
  return waitFor(
    `deliveries of ${eventId} to settle`,
    async () => {
      const res = await call("GET", `/v1/events/${eventId}`, { token });
      const list = res.json?.deliveries as { id: string; status: string }[] | undefined;
      return list && list.length > 0 && list.every((d) => !["pending", "in_flight"].includes(d.status)) ? list : null;
    },
    timeoutMs,
  );
}

export async function deliveryWithAttempts(id: string, token?: string) {
  const res = await call("GET", `/v1/deliveries/${id}`, { token });
  expect(res.status, res.text).toBe(200);
  return res.json;
}

/** Milliseconds from the end of attempt i-1 to the start of attempt i, on the service's clock. */
export function gapAfter(attempts: { started_at: string; duration_ms: number }[], i: number): number {
  const previous = attempts[i - 1];
  return Date.parse(attempts[i].started_at) - (Date.parse(previous.started_at) + previous.duration_ms);
}
