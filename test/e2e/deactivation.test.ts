/// <reference types="node" />
/**
 * Auto-deactivation end to end: a receiver that always fails is switched off after
 * exactly DEACTIVATE_AFTER (10) failed attempts across deliveries. The retry schedule
 * is shortened through configuration; the counting is the real Durable Object's.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { answer, startReceiver, type Receiver } from "./receiver";
import { type Service, startService } from "./service";

let service: Service;
let receiver: Receiver;

beforeAll(async () => {
  service = await startService({ RETRY_SCHEDULE: "1,1,1" });
});

afterAll(async () => {
  await receiver?.close();
  await service?.stop();
});

async function waitForStatus(eventId: string, key: string, done: (s: string) => boolean) {
  for (let i = 0; i < 150; i++) {
    const res = await service.api("GET", `/v1/events/${eventId}`, { token: key });
    const d = res.json.deliveries[0];
    if (d && done(d.status)) return d;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`event ${eventId} never reached the expected state`);
}

it("switches an always-failing endpoint off after exactly 10 attempts, and PATCH active:true brings it back", async () => {
  const acct = await service.api("POST", "/v1/accounts", { body: { name: "e2e-deactivation" } });
  const key = acct.json.api_key.key;
  let secret = "";
  receiver = await startReceiver((req, _n, res) => {
    new Webhook(secret).verify(req.body, req.headers); // every attempt is signed
    answer(res, 503);
  });
  const sub = await service.api("POST", "/v1/subscriptions", {
    token: key,
    body: { url: receiver.url, event_types: ["document.*"] },
  });
  secret = sub.json.secret;

  const emit = async () =>
    (await service.api("POST", "/v1/events", { body: { account_id: acct.json.id, type: "document.created", data: {} } })).json
      .data[0].id as string;

  // One event at a time: 4 + 4 failed attempts, then the third delivery's second attempt is the tenth.
  const first = await emit();
  expect((await waitForStatus(first, key, (s) => s === "failed")).status).toBe("failed");
  const second = await emit();
  await waitForStatus(second, key, (s) => s === "failed");
  const third = await emit();
  const skipped = await waitForStatus(third, key, (s) => s === "skipped");
  expect(skipped.status).toBe("skipped");

  const off = await service.api("GET", `/v1/subscriptions/${sub.json.id}`, { token: key });
  expect(off.json).toMatchObject({ active: false, consecutive_failures: 10 });
  expect(off.json.disabled_reason).toContain("10 consecutive failed attempts");
  expect(Date.parse(off.json.disabled_at)).toBeGreaterThan(Date.now() - 60_000);
  await new Promise((r) => setTimeout(r, 2500));
  expect(receiver.requests).toHaveLength(10);

  // While off, new events are recorded as skipped and nothing is sent.
  const whileOff = await emit();
  expect((await waitForStatus(whileOff, key, (s) => s !== "pending")).status).toBe("skipped");

  const on = await service.api("PATCH", `/v1/subscriptions/${sub.json.id}`, { token: key, body: { active: true } });
  expect(on.json).toMatchObject({ active: true, disabled_reason: null, disabled_at: null, consecutive_failures: 0 });
  expect(receiver.requests).toHaveLength(10);
}, 90_000);
