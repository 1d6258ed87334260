/**
 * The clarife format through /v1/subscriptions, inside workerd: what the seed's users
 * (https targets, a generated signing secret, rotation) and receivers (the envelope,
 * X-Clarife-Signature, the retry table, the test button, auto-deactivation) rely on.
 * Signatures are recomputed here with crypto.subtle, independently of src/core/crypto.ts.
 */
import { describe, expect, it } from "vitest";
import { call, createAccount, createSubscription, expectProblem } from "./harness";
import { deliveryWithAttempts, emit, gapAfter, type Received, received, receiverUrl, settledDeliveries } from "./delivery-harness";

const EVENT_ID = /^evt_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SIGNATURE = /^t=(\d+),v1=([0-9a-f]{64})$/;

async function hexHmac(secret: string, body: string): Promise<string> {
  const enc = new TextEncoder();
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, enc.encode(body)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** The parts of X-Clarife-Signature; fails the test unless it is exactly `t=<digits>,v1=<64 hex>`. */
function signatureOf(req: Received): { t: number; v1: string } {
  const header = req.headers["x-clarife-signature"];
  const m = SIGNATURE.exec(header ?? "");
  expect(m, `X-Clarife-Signature: ${header}`).not.toBeNull();
  return { t: Number(m![1]), v1: m![2] };
}

/** The request is signed with `secret` over its exact body, at a `t` in seconds within [from, to] ms. */
async function expectSigned(req: Received, secret: string, from: number, to: number) {
  const { t, v1 } = signatureOf(req);
  expect(v1).toBe(await hexHmac(secret, req.body));
  expect(t).toBeGreaterThanOrEqual(Math.floor(from / 1000));
  expect(t).toBeLessThanOrEqual(Math.ceil(to / 1000));
}

async function clarifeSubscription(key: string, url: string, body: Record<string, unknown> = {}) {
  return createSubscription(key, { url, format: "clarife", event_types: ["document.*"], ...body });
}

/** Emits the raw JSON text of POST /v1/events, so literals such as 1.0 reach Hookline as written. */
async function emitRaw(raw: string) {
  const res = await call("POST", "/v1/events", { rawBody: raw, headers: { "content-type": "application/json" } });
  expect(res.status, res.text).toBe(202);
  return res.json.data[0] as { id: string; deliveries: number };
}

describe.concurrent("clarife format on /v1/subscriptions", () => {
  it("requires https: an http target is a 422 naming the rule (ALLOW_INSECURE_TARGETS is off)", async () => {
    const { key } = await createAccount("business");
    const create = await call("POST", "/v1/subscriptions", {
      token: key,
      body: { url: "http://example.com/hook", event_types: ["document.updated"], format: "clarife" },
    });
    const p = expectProblem(create, 422);
    expect(p.errors).toEqual([{ path: "url", message: "this format requires https urls" }]);
    expect(p.detail).toContain("requires https");

    // The same url is fine for a format that allows http: the refusal is clarife's scheme rule.
    const clara = await createSubscription(key, { url: "http://example.com/hook", format: "clara" });
    const toClarife = await call("PATCH", `/v1/subscriptions/${clara.id}`, { token: key, body: { format: "clarife" } });
    expect(expectProblem(toClarife, 422).errors).toEqual([{ path: "url", message: "this format requires https urls" }]);

    const sub = await clarifeSubscription(key, "https://example.com/hook");
    const toHttp = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { url: "http://example.com/hook" } });
    expect(expectProblem(toHttp, 422).errors).toEqual([{ path: "url", message: "this format requires https urls" }]);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.url).toBe("https://example.com/hook");
  });

  it("generates a signing secret when none is given, shown at create and by GET /secret only", async () => {
    const { key } = await createAccount();
    const a = await clarifeSubscription(key, "https://example.com/a");
    const b = await clarifeSubscription(key, "https://example.com/b");
    expect(a.format).toBe("clarife");
    expect(a.secret).toEqual(expect.any(String));
    expect(a.secret.length).toBeGreaterThanOrEqual(32);
    expect(b.secret).not.toBe(a.secret);
    const read = await call("GET", `/v1/subscriptions/${a.id}/secret`, { token: key });
    expect(read.status, read.text).toBe(200);
    expect(read.json).toEqual({ secret: a.secret });
    const got = await call("GET", `/v1/subscriptions/${a.id}`, { token: key });
    expect(got.json).not.toHaveProperty("secret");
    expect(got.text).not.toContain(a.secret);
    const list = await call("GET", "/v1/subscriptions", { token: key });
    expect(list.text).not.toContain(a.secret);
  });

  it("sends exactly JSON.stringify({id, type, created_at, data}), signed t=<s>,v1=<hex HMAC under the whole secret>", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("ok");
    const sub = await clarifeSubscription(key, target.url);
    // Literals that a byte-for-byte copy would keep and JSON.stringify does not.
    const rawData = String.raw`{"title": "Q3 plan", "a": 1.0, "b": 1e3, "c": "\u00e9", "d": {"b": 1, "1": 2}, "g": -0.0, "i": "\u2028"}`;
    expect(JSON.stringify(JSON.parse(rawData))).not.toBe(rawData);
    const before = Date.now();
    const event = await emitRaw(
      `{"account_id": ${JSON.stringify(accountId)}, "type": "document.updated", "subject": "doc_1", "timestamp": "2026-03-28T12:00:00Z", "data": ${rawData}}`,
    );
    expect(event.id).toMatch(EVENT_ID);
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");

    const [req] = await received(target.key);
    expect(req.method).toBe("POST");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.body).toBe(
      JSON.stringify({ id: event.id, type: "document.updated", created_at: "2026-03-28T12:00:00.000Z", data: JSON.parse(rawData) }),
    );
    // What the seed's verifier recomputes on the parsed body is the body itself.
    expect(JSON.stringify(JSON.parse(req.body))).toBe(req.body);
    await expectSigned(req, sub.secret, before, req.at);
    // The key is the whole secret string, and the signature covers the body only.
    const { v1 } = signatureOf(req);
    expect(v1).not.toBe(await hexHmac(sub.secret.replace(/^whsec_/, ""), req.body));
    expect(v1).not.toBe(await hexHmac(sub.secret, req.body.replace("Q3 plan", "Q4 plan")));
    // No other format's headers ride along.
    expect(req.headers["webhook-signature"]).toBeUndefined();
    expect(req.headers["x-clara-signature"]).toBeUndefined();
  });

  it("dates an event emitted without a timestamp at its emit time, in ISO 8601", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("ok");
    await clarifeSubscription(key, target.url);
    const before = Date.now();
    const event = await emit(accountId, "document.created", { id: "doc_2" });
    const after = Date.now();
    await settledDeliveries(event.id);
    const [req] = await received(target.key);
    const body = JSON.parse(req.body);
    expect(Object.keys(body)).toEqual(["id", "type", "created_at", "data"]);
    expect(body).toMatchObject({ id: event.id, type: "document.created", data: { id: "doc_2" } });
    expect(body.created_at).toBe(new Date(Date.parse(body.created_at)).toISOString());
    expect(Date.parse(body.created_at)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(body.created_at)).toBeLessThanOrEqual(after);
  });

  it("rotate-secret replaces the secret at once: the next delivery is signed with the new one only", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("ok");
    const sub = await clarifeSubscription(key, target.url);
    const old = sub.secret as string;

    // A delivery before the rotation, so any cached key of the old secret is warm.
    const first = await emit(accountId);
    await settledDeliveries(first.id);
    const [r1] = await received(target.key);
    expect(signatureOf(r1).v1).toBe(await hexHmac(old, r1.body));

    const rotated = await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.json.previous_secret_expires_at).toBeNull();
    const fresh = rotated.json.secret as string;
    expect(fresh).toEqual(expect.any(String));
    expect(fresh).not.toBe(old);
    expect((await call("GET", `/v1/subscriptions/${sub.id}/secret`, { token: key })).json.secret).toBe(fresh);

    const second = await emit(accountId);
    const [delivery] = await settledDeliveries(second.id);
    expect(delivery.status).toBe("delivered");
    const requests = await received(target.key);
    expect(requests).toHaveLength(2);
    const r2 = requests[1];
    expect(JSON.parse(r2.body).id).toBe(second.id);
    // One signature (SIGNATURE is anchored: no second v1), under the new secret and not the old.
    const { v1 } = signatureOf(r2);
    expect(v1).toBe(await hexHmac(fresh, r2.body));
    expect(v1).not.toBe(await hexHmac(old, r2.body));

    // A given secret replaces it at once too.
    const given = await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, {
      token: key,
      body: { secret: "clarife-chosen-secret" },
    });
    expect(given.json).toEqual({ secret: "clarife-chosen-secret", previous_secret_expires_at: null });
    const third = await emit(accountId);
    await settledDeliveries(third.id);
    const r3 = (await received(target.key))[2];
    expect(signatureOf(r3).v1).toBe(await hexHmac("clarife-chosen-secret", r3.body));
  });

  it("makes four attempts at a failing receiver, each signed afresh over the same body, then marks it failed", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("status/500");
    const sub = await clarifeSubscription(key, target.url);
    const before = Date.now();
    const event = await emit(accountId);
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("failed");

    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts_count).toBe(4);
    expect(detail.next_attempt_at).toBeNull();
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code])).toEqual([
      [1, "http_status", 500],
      [2, "http_status", 500],
      [3, "http_status", 500],
      [4, "http_status", 500],
    ]);
    const requests = await received(target.key);
    expect(requests).toHaveLength(4);
    expect(new Set(requests.map((r) => r.body)).size).toBe(1);
    for (const req of requests) await expectSigned(req, sub.secret, before, req.at);
    // RETRY_SCHEDULE is 1,1,1 here: each retry comes about a second after the previous attempt
    // ended, on the service's own clock (a receiver's arrival times carry its own delays).
    for (let i = 1; i < 4; i++) expect(gapAfter(detail.attempts, i)).toBeGreaterThanOrEqual(900);
    // Signed again at each attempt: the last t is later than the first.
    expect(signatureOf(requests[3]).t).toBeGreaterThan(signatureOf(requests[0]).t);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json).toMatchObject({
      active: true,
      consecutive_failures: 4,
    });
  });

  it("records a timeout when the receiver does not answer within DELIVERY_TIMEOUT_MS (1000 ms here)", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("hang");
    await clarifeSubscription(key, target.url);
    const event = await emit(accountId);
    const [delivery] = await settledDeliveries(event.id, undefined, 30_000);
    expect(delivery.status).toBe("failed");
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts).toHaveLength(4);
    for (const a of detail.attempts) {
      expect(a).toMatchObject({ outcome: "timeout", status_code: null, error: "receiver.test did not answer within 1000 ms" });
      expect(a.duration_ms).toBeGreaterThanOrEqual(900);
      expect(a.duration_ms).toBeLessThan(4000);
    }
  }, 40_000);

  it("the test endpoint sends a clarife-format event, signed, and says what the receiver answered", async () => {
    const { key } = await createAccount();
    const target = receiverUrl("ok");
    const sub = await createSubscription(key, { url: target.url, format: "clarife", event_types: ["document.updated"] });
    const example = (await call("GET", "/v1/event-types/document.updated", { token: key })).json.example;
    expect(example).toEqual(expect.objectContaining({ id: expect.any(String) }));

    const before = Date.now();
    const res = await call("POST", `/v1/subscriptions/${sub.id}/test`, { token: key });
    const after = Date.now();
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ success: true, status_code: 200, error: null, response_body: '{"received":true}' });
    expect(res.json.event_id).toMatch(EVENT_ID);

    const requests = await received(target.key);
    expect(requests).toHaveLength(1);
    const [req] = requests;
    const createdAt = JSON.parse(req.body).created_at;
    expect(Date.parse(createdAt)).toBeGreaterThanOrEqual(before);
    expect(Date.parse(createdAt)).toBeLessThanOrEqual(after);
    expect(req.body).toBe(
      JSON.stringify({ id: res.json.event_id, type: "document.updated", created_at: createdAt, data: example }),
    );
    await expectSigned(req, sub.secret, before, after);

    const failing = receiverUrl("status/500");
    const bad = await createSubscription(key, { url: failing.url, format: "clarife", event_types: ["document.updated"] });
    const res2 = await call("POST", `/v1/subscriptions/${bad.id}/test`, { token: key });
    expect(res2.json).toMatchObject({ success: false, status_code: 500 });
    const [failed] = await received(failing.key);
    expect(signatureOf(failed).v1).toBe(await hexHmac(bad.secret, failed.body));
  });

  it("switches itself off after 10 consecutive failed attempts, with disabled_reason on GET", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("status/503");
    const sub = await clarifeSubscription(key, target.url);

    // One event at a time: 4 + 4 failed attempts, then the third delivery's second attempt is the tenth.
    const first = await emit(accountId);
    expect((await settledDeliveries(first.id))[0].status).toBe("failed");
    const second = await emit(accountId);
    expect((await settledDeliveries(second.id))[0].status).toBe("failed");
    const mid = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(mid.json).toMatchObject({ active: true, disabled_reason: null, consecutive_failures: 8 });
    const third = await emit(accountId);
    expect((await settledDeliveries(third.id))[0].status).toBe("skipped");

    const off = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(off.json).toMatchObject({ active: false, consecutive_failures: 10 });
    expect(off.json.disabled_reason).toContain("10 consecutive failed attempts");
    expect(Date.parse(off.json.disabled_at)).toBeGreaterThan(Date.now() - 60_000);
    await new Promise((r) => setTimeout(r, 1500));
    const requests = await received(target.key);
    expect(requests).toHaveLength(10);
    for (const req of requests) expect(signatureOf(req).v1).toBe(await hexHmac(sub.secret, req.body));

    // While off, a matching event is recorded as skipped and nothing is sent.
    const whileOff = await emit(accountId);
    expect((await settledDeliveries(whileOff.id))[0].status).toBe("skipped");
    expect(await received(target.key)).toHaveLength(10);
  }, 60_000);
});
