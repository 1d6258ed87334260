/// <reference types="node" />
/**
 * The delivery engine end to end: the real service through the launcher (wrangler dev:
 * workerd with D1, Queues and Durable Objects), the real retry schedule (1 s, 10 s, 60 s)
 * and real receivers on 127.0.0.1 that verify every delivery with the standardwebhooks package.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answer, startReceiver, type Receiver } from "./receiver";
import { type Service, startService } from "./service";

let service: Service;
let account: { id: string; name: string; key: string };
const receivers: Receiver[] = [];

beforeAll(async () => {
  // The real schedule; only the timeout is shortened so the timeout test stays short.
  service = await startService({ RETRY_SCHEDULE: "1,10,60", DELIVERY_TIMEOUT_MS: "2000" });
  const res = await service.api("POST", "/v1/accounts", { body: { name: "e2e-delivery", plan: "business" } });
  expect(res.status, res.text).toBe(201);
  account = { id: res.json.id, name: res.json.name, key: res.json.api_key.key };
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await service?.stop();
});

async function receiver(handler: Parameters<typeof startReceiver>[0]) {
  const r = await startReceiver(handler);
  receivers.push(r);
  return r;
}

/** Each test subscribes to its own event type, so no test sees another's deliveries. */
async function subscribe(url: string, eventTypes = ["document.updated"]) {
  const res = await service.api("POST", "/v1/subscriptions", { token: account.key, body: { url, event_types: eventTypes } });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; secret: string };
}

async function emit(type: string, data: unknown) {
  const res = await service.api("POST", "/v1/events", { body: { account_id: account.id, type, data } });
  expect(res.status, res.text).toBe(202);
  return res.json.data[0] as { id: string; deliveries: number };
}

async function deliveryOf(eventId: string, subscriptionId: string) {
  const res = await service.api("GET", `/v1/events/${eventId}`, { token: account.key });
  const found = res.json.deliveries.find((d: any) => d.subscription_id === subscriptionId);
  expect(found, `a delivery of ${eventId} to ${subscriptionId}`).toBeDefined();
  return found as { id: string; status: string };
}

async function attemptsOf(deliveryId: string, settled = true) {
  for (let i = 0; i < 100; i++) {
    const res = await service.api("GET", `/v1/deliveries/${deliveryId}`, { token: account.key });
    if (!settled || !["pending", "in_flight"].includes(res.json.status)) return res.json;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`delivery ${deliveryId} never settled`);
}

describe("delivery end to end", () => {
  it("delivers a signed event that a receiver verifies with the standardwebhooks package", async () => {
    let verified: any = null;
    let sub: { id: string; secret: string } | undefined;
    const r = await receiver((req, _n, res) => {
      verified = new Webhook(sub!.secret).verify(req.body, req.headers);
      answer(res, 200);
    });
    sub = await subscribe(`${r.url}/hooks`);
    const event = await emit("document.updated", { id: "doc_1", title: "Plan", price: 1.0, big: 12345678901234567890 });
    const [req] = await r.waitFor(1);
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/hooks");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(verified).toMatchObject({ type: "document.updated", data: { id: "doc_1", title: "Plan", price: 1 } });
    const delivery = await deliveryOf(event.id, sub.id);
    expect(req.headers["webhook-id"]).toBe(delivery.id);
    const detail = await attemptsOf(delivery.id);
    expect(detail.status).toBe("delivered");
    expect(detail.attempts).toEqual([
      expect.objectContaining({ number: 1, outcome: "success", status_code: 200, response_body: '{"ok":true}' }),
    ]);
  });

  it("retries a receiver that fails twice after 1 s and 10 s (±20 %), then records the success", async () => {
    let sub: { id: string; secret: string } | undefined;
    const r = await receiver((req, n, res) => {
      new Webhook(sub!.secret).verify(req.body, req.headers);
      answer(res, n <= 2 ? 500 : 200);
    });
    sub = await subscribe(r.url, ["document.created"]);
    const event = await emit("document.created", { id: "doc_2" });
    const [first, , third] = await r.waitFor(3, 60_000);
    expect(new Set(r.requests.map((q) => q.headers["webhook-id"])).size).toBe(1);
    // Each attempt is signed afresh: a new webhook-timestamp.
    expect(Number(third.headers["webhook-timestamp"])).toBeGreaterThan(Number(first.headers["webhook-timestamp"]));
    const detail = await attemptsOf((await deliveryOf(event.id, sub.id)).id);
    expect(detail.status).toBe("delivered");
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code])).toEqual([
      [1, "http_status", 500],
      [2, "http_status", 500],
      [3, "success", 200],
    ]);
    // The gaps on the service's own clock, from the end of one attempt to the start of the next:
    // what the retry schedule governs, without the receiver's clock, the HTTP exchange or the
    // receiver's answer time, which a busy machine stretches. Load only lengthens a gap, so the
    // lower bounds stay exact; the upper ones leave the service 200 ms and 2 s to schedule.
    const [a1, a2, a3] = detail.attempts.map((a: any) => ({ start: Date.parse(a.started_at), end: Date.parse(a.started_at) + a.duration_ms }));
    const gap1 = a2.start - a1.end;
    const gap2 = a3.start - a2.end;
    expect(gap1, `1 s retry gap: ${gap1} ms`).toBeGreaterThanOrEqual(800);
    expect(gap1, `1 s retry gap: ${gap1} ms`).toBeLessThanOrEqual(1200);
    expect(gap2, `10 s retry gap: ${gap2} ms`).toBeGreaterThanOrEqual(8000);
    expect(gap2, `10 s retry gap: ${gap2} ms`).toBeLessThanOrEqual(12000);
  }, 90_000);

  it("records a timeout for a receiver that does not answer in time, and retries it", async () => {
    const r = await receiver(async (_req, n, res) => {
      if (n === 1) await new Promise((resolve) => setTimeout(resolve, 4000));
      answer(res, 200);
    });
    const sub = await subscribe(r.url, ["folder.created"]);
    const event = await emit("folder.created", { id: "f1" });
    await r.waitFor(2, 20_000);
    const detail = await attemptsOf((await deliveryOf(event.id, sub.id)).id);
    expect(detail.status).toBe("delivered");
    expect(detail.attempts[0]).toMatchObject({ number: 1, outcome: "timeout", status_code: null });
    expect(detail.attempts[0].duration_ms).toBeGreaterThanOrEqual(1900);
    expect(detail.attempts[1]).toMatchObject({ number: 2, outcome: "success" });
  }, 30_000);
});
