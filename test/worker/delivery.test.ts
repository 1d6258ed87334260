import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { attemptIdOf } from "../../src/core/ids";
import { call, createAccount, createSubscription } from "./harness";
import { deliveryWithAttempts, emit, gapAfter, received, receiverUrl, settledDeliveries } from "./delivery-harness";

describe.concurrent("delivery through the real queue consumer", () => {
  it("delivers a signed standard webhook that the standardwebhooks package verifies", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("ok");
    const sub = await createSubscription(key, { url: target.url, event_types: ["document.*"], headers: { "X-Team": "docs" } });
    const event = await emit(accountId, "document.updated", { id: "doc_1", amount: 1.5, name: "é" }, { subject: "doc_1" });
    expect(event.deliveries).toBe(1);

    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    const [req] = await received(target.key);
    expect(req.method).toBe("POST");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["x-team"]).toBe("docs");
    expect(req.headers["webhook-id"]).toBe(delivery.id);
    const payload = new Webhook(sub.secret).verify(req.body, req.headers) as any;
    expect(payload).toEqual({
      type: "document.updated",
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      subject: "doc_1",
      data: { id: "doc_1", amount: 1.5, name: "é" },
    });
    // A tampered body does not verify.
    expect(() => new Webhook(sub.secret).verify(req.body.replace("doc_1", "doc_2"), req.headers)).toThrow();

    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0]).toMatchObject({ number: 1, outcome: "success", status_code: 200, error: null });
    expect(detail.attempts[0].response_body).toBe('{"received":true}');
    expect(detail.attempts[0].response_headers["content-type"]).toBe("application/json");
  });

  it("retries a failing receiver on schedule and records every attempt, same webhook-id each time", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("flaky/2");
    await createSubscription(key, { url: target.url });
    const event = await emit(accountId);
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code])).toEqual([
      [1, "http_status", 500],
      [2, "http_status", 500],
      [3, "success", 200],
    ]);
    // Attempt ids are derived, not stored: the two that moved out of the delivery's row kept the id
    // they were shown with while they were its last attempt.
    expect(detail.attempts.map((a: any) => a.id)).toEqual([1, 2, 3].map((n) => attemptIdOf(delivery.id, n)));
    const requests = await received(target.key);
    expect(new Set(requests.map((r) => r.headers["webhook-id"]))).toEqual(new Set([delivery.id]));
    // RETRY_SCHEDULE is 1,1,1 here: each retry waits about a second (on the service's own clock).
    expect(gapAfter(detail.attempts, 1)).toBeGreaterThanOrEqual(900);
  });

  it("gives up after four attempts and marks the delivery failed", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("status/503");
    const sub = await createSubscription(key, { url: target.url });
    const event = await emit(accountId);
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("failed");
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts_count).toBe(4);
    expect(detail.attempts.every((a: any) => a.outcome === "http_status" && a.status_code === 503)).toBe(true);
    expect(detail.next_attempt_at).toBeNull();
    expect(await received(target.key)).toHaveLength(4);
    const after = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(after.json.consecutive_failures).toBe(4);
    expect(after.json.active).toBe(true);
  });

  it("records a timeout when the receiver does not answer within DELIVERY_TIMEOUT_MS", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("hang");
    await createSubscription(key, { url: target.url, event_types: ["webhook.test"] });
    const event = await emit(accountId, "webhook.test", { hello: "world" });
    const [delivery] = await settledDeliveries(event.id, undefined, 30_000);
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts[0].outcome).toBe("timeout");
    expect(detail.attempts[0].status_code).toBeNull();
    expect(detail.attempts[0].duration_ms).toBeGreaterThanOrEqual(900);
  }, 40_000);

  it("does not follow redirects: a 302 is a failed attempt and the target is never called", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("redirect");
    await createSubscription(key, { url: target.url });
    const event = await emit(accountId);
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("failed");
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts[0]).toMatchObject({ outcome: "http_status", status_code: 302 });
    expect(detail.attempts[0].error).toContain("redirect");
    expect(await received("redirected")).toHaveLength(0);
  });

  it("keeps only the first 4 KB of a response body", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("big");
    await createSubscription(key, { url: target.url });
    const [delivery] = await settledDeliveries((await emit(accountId)).id);
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts[0].response_body).toHaveLength(4096);
    expect(detail.attempts[0].response_headers["x-big"]).toBe("yes");
  });

  it("keeps a body of exactly 4 KB, its length declared, whole", async () => {
    const { id: accountId, key } = await createAccount();
    await createSubscription(key, { url: receiverUrl("limit").url });
    const [delivery] = await settledDeliveries((await emit(accountId)).id);
    expect(delivery.status).toBe("delivered");
    const { attempts } = await deliveryWithAttempts(delivery.id, key);
    expect(attempts[0].response_body).toBe("z".repeat(4096));
  });
});
