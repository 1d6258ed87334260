/// <reference types="node" />
/**
 * Operational webhooks end to end (README "Operational webhooks"): the operator's endpoint, a
 * real HTTP receiver, is told `subscription.failing` and `subscription.disabled` for an account's
 * endpoint that keeps failing, `subscription.enabled` when it is switched back on, and
 * `delivery.failed` once per exhausted delivery; every request verified with the
 * standardwebhooks package, deduplicated by webhook-id, order not assumed (times compared).
 * A second operational endpoint that always fails is never switched off and never the subject
 * of an event. The retry schedule is shortened through configuration; DEACTIVATE_AFTER stays 10.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { answer, type Receiver, type ReceivedRequest, startReceiver } from "./receiver";
import { type Service, startService } from "./service";

let service: Service;
const receivers: Receiver[] = [];

beforeAll(async () => {
  service = await startService({ RETRY_SCHEDULE: "1,1,1" });
});

afterAll(async () => {
  for (const r of receivers) await r.close();
  await service?.stop();
});

interface Told {
  webhookId: string;
  type: string;
  timestamp: string;
  subject: string;
  data: any;
}

/** Each request verified with the hook's secret (a bad signature throws), once per webhook-id. */
function told(requests: ReceivedRequest[], secret: string): Told[] {
  const verifier = new Webhook(secret);
  const byId = new Map<string, Told>();
  for (const r of requests) {
    const body = verifier.verify(r.body, r.headers) as Omit<Told, "webhookId">;
    byId.set(r.headers["webhook-id"], { webhookId: r.headers["webhook-id"], ...body });
  }
  return [...byId.values()];
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

it("tells the operator's endpoint subscription.failing, .disabled, .enabled and delivery.failed, signed, each once", async () => {
  const ops = await startReceiver((_req, _n, res) => answer(res, 200));
  const broken = await startReceiver((_req, _n, res) => answer(res, 500));
  const endpoint = await startReceiver((_req, _n, res) => answer(res, 503));
  receivers.push(ops, broken, endpoint);

  const hook = await service.api("POST", "/v1/operational-webhooks", {
    body: { url: ops.url, event_types: ["subscription.*", "delivery.failed"], description: "on-call" },
  });
  expect(hook.status, hook.text).toBe(201);
  const brokenHook = await service.api("POST", "/v1/operational-webhooks", { body: { url: broken.url, event_types: ["*"] } });
  expect(brokenHook.status, brokenHook.text).toBe(201);

  const acct = await service.api("POST", "/v1/accounts", { body: { name: "e2e-operational" } });
  const key = acct.json.api_key.key;
  const sub = await service.api("POST", "/v1/subscriptions", { token: key, body: { url: endpoint.url, event_types: ["document.*"] } });
  expect(sub.status, sub.text).toBe(201);

  const emit = async () =>
    (await service.api("POST", "/v1/events", { body: { account_id: acct.json.id, type: "document.created", data: {} } })).json.data[0]
      .id as string;
  const settled = async (eventId: string) =>
    until(`event ${eventId} to settle`, async () => {
      const d = (await service.api("GET", `/v1/events/${eventId}`, { token: key })).json.deliveries[0];
      return d && ["failed", "skipped", "delivered"].includes(d.status) ? d : null;
    });

  // One event at a time: 4 + 4 failed attempts (the fifth is failing), then the tenth switches it off.
  const first = await settled(await emit());
  const second = await settled(await emit());
  const third = await settled(await emit());
  expect([first.status, second.status, third.status]).toEqual(["failed", "failed", "skipped"]);
  const off = (await service.api("GET", `/v1/subscriptions/${sub.json.id}`, { token: key })).json;
  expect(off).toMatchObject({ active: false, consecutive_failures: 10 });

  const about = (type: string) => told(ops.requests, hook.json.secret).filter((e) => e.subject === sub.json.id && e.type === type);
  const [failing] = await until("subscription.failing", () => about("subscription.failing").length > 0 && about("subscription.failing"));
  const [disabled] = await until("subscription.disabled", () => about("subscription.disabled").length > 0 && about("subscription.disabled"));
  const exhausted = await until("two delivery.failed", () => about("delivery.failed").length >= 2 && about("delivery.failed"));

  const on = await service.api("PATCH", `/v1/subscriptions/${sub.json.id}`, { token: key, body: { active: true } });
  expect(on.json).toMatchObject({ active: true, consecutive_failures: 0 });
  const [enabled] = await until("subscription.enabled", () => about("subscription.enabled").length > 0 && about("subscription.enabled"));

  // Figures, against the service's own records.
  const account = { id: acct.json.id, name: "e2e-operational" };
  expect(failing.data).toMatchObject({
    account,
    subscription: { id: sub.json.id, url: endpoint.url },
    consecutive_failures: 5,
    deactivate_after: 10,
    last_attempt: { outcome: "http_status", status_code: 503, error: `${new URL(endpoint.url).host} answered 503 Service Unavailable: the receiver is unavailable for now` },
  });
  expect(disabled.data).toMatchObject({
    account,
    subscription: { id: sub.json.id, url: endpoint.url, active: false },
    trigger: "automatic",
    reason: "deactivated after 10 consecutive failed attempts",
    consecutive_failures: 10,
    disabled_at: off.disabled_at,
    last_attempt: { status_code: 503 },
  });
  expect(enabled.data).toMatchObject({
    account,
    subscription: { id: sub.json.id, active: true },
    previously: { disabled_reason: off.disabled_reason, disabled_at: off.disabled_at, consecutive_failures: 10 },
  });
  expect(exhausted.map((e) => e.data.delivery.id).sort()).toEqual([first.id, second.id].sort());
  for (const e of exhausted) {
    const delivery = (await service.api("GET", `/v1/deliveries/${e.data.delivery.id}`, { token: key })).json;
    const last = delivery.attempts.at(-1);
    expect(e.data).toMatchObject({
      account,
      delivery: { id: delivery.id, attempts: 4 },
      event: { id: delivery.event_id, type: "document.created" },
      last_attempt: { status_code: 503, started_at: last.started_at },
    });
  }

  // Order is not assumed, times are compared: the run began before it was failing, failing before
  // the switch-off, the switch-off before it came back; the first exhausted delivery before failing.
  const t = (e: Told) => Date.parse(e.timestamp);
  expect(Date.parse(failing.data.failing_since)).toBeLessThanOrEqual(t(failing));
  expect(t(failing)).toBeLessThanOrEqual(t(disabled));
  expect(t(disabled)).toBeLessThanOrEqual(t(enabled));
  expect(Math.min(...exhausted.map(t))).toBeLessThanOrEqual(t(failing));
  expect(Date.parse(disabled.data.disabled_at)).toBe(Date.parse(off.disabled_at));

  // Each once: a moment more, and still one of each (two delivery.failed), whatever arrived twice.
  await new Promise((r) => setTimeout(r, 3000));
  const counts = Object.fromEntries(
    ["subscription.failing", "subscription.disabled", "subscription.enabled", "delivery.failed", "subscription.created"].map((type) => [
      type,
      about(type).length,
    ]),
  );
  expect(counts).toEqual({
    "subscription.failing": 1,
    "subscription.disabled": 1,
    "subscription.enabled": 1,
    "delivery.failed": 2,
    "subscription.created": 1,
  });

  // The broken operational endpoint: its failures are in its log, it stays on, and it is nobody's subject.
  const brokenLog = await until("the broken hook's failed deliveries", async () => {
    const res = await service.api("GET", `/v1/operational-webhooks/${brokenHook.json.id}/deliveries?status=failed`);
    return res.json.data.length >= 3 && res.json.data;
  });
  expect(brokenLog.every((d: { attempts_count: number }) => d.attempts_count === 4)).toBe(true);
  expect(broken.requests.length).toBeGreaterThanOrEqual(12); // more than DEACTIVATE_AFTER failed attempts
  const brokenNow = (await service.api("GET", `/v1/operational-webhooks/${brokenHook.json.id}`)).json;
  expect(brokenNow.active).toBe(true);
  expect(brokenNow.consecutive_failures).toBeGreaterThanOrEqual(10);
  const subjects = told(ops.requests, hook.json.secret).map((e) => e.subject);
  expect(subjects.filter((s) => s.startsWith("opwh_"))).toEqual([]);
  expect(subjects.every((s) => s === sub.json.id)).toBe(true);
}, 120_000);
