/**
 * Honouring what the receiver says, through the real queue consumer and the subscription's
 * Durable Object: Retry-After on 429 and 503, 410 Gone, and attempt errors a person can act on.
 */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { healthOf } from "../../src/delivery/health";
import { deliveryWithAttempts, emit, gapAfter, received, receiverUrl, settledDeliveries, waitFor } from "./delivery-harness";
import { call, createAccount, createSubscription } from "./harness";

describe.concurrent("Retry-After", () => {
  it("a 429 with Retry-After: 3 makes the next attempt wait at least 3 s (the schedule says 1 s), and the log shows the wait", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("busy/429/3");
    const sub = await createSubscription(key, { url: target.url });
    const [delivery] = await settledDeliveries((await emit(accountId)).id, key, 30_000);
    expect(delivery.status).toBe("delivered");
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code])).toEqual([
      [1, "http_status", 429],
      [2, "success", 200],
    ]);
    const host = new URL(target.url).host;
    expect(detail.attempts[0].error).toBe(
      `${host} answered 429 Too Many Requests: the receiver is rate limiting (a throttle_rate on the subscription keeps under its limit); ` +
        "it asked to wait 3 s (Retry-After: 3): any next attempt waits at least that long",
    );
    expect(detail.attempts[0].response_headers["retry-after"]).toBe("3");
    // Measured on the service's own clock: from the end of the first attempt to the start of the second.
    expect(gapAfter(detail.attempts, 1)).toBeGreaterThanOrEqual(3000);
    // Still one failed attempt: counted, then reset by the success.
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.consecutive_failures).toBe(0);
  }, 40_000);

  it("a 503 with an HTTP date waits until then; the delivery's next_attempt_at shows it", async () => {
    const { id: accountId, key } = await createAccount();
    const at = new Date(Math.ceil((Date.now() + 4000) / 1000) * 1000);
    const target = receiverUrl(`busy/503/${encodeURIComponent(at.toUTCString())}`);
    await createSubscription(key, { url: target.url });
    const event = await emit(accountId);
    const waiting = await waitFor("the first attempt", async () => {
      const res = await call("GET", `/v1/events/${event.id}`, { token: key });
      const d = res.json.deliveries[0];
      return d && d.attempts_count === 1 && d.status === "pending" ? d : null;
    });
    expect(Date.parse(waiting.next_attempt_at)).toBeGreaterThanOrEqual(at.getTime() - 1000);
    const [delivery] = await settledDeliveries(event.id, key, 30_000);
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts[0].error).toContain(`(Retry-After: ${at.toUTCString()})`);
    expect(Date.parse(detail.attempts[1].started_at)).toBeGreaterThanOrEqual(at.getTime() - 1000);
    expect(detail.status).toBe("delivered");
  }, 40_000);

  it("a Retry-After of a day waits an hour, and says so", async () => {
    const { id: accountId, key } = await createAccount();
    await createSubscription(key, { url: receiverUrl("busy/429/86400").url });
    const event = await emit(accountId);
    const waiting = await waitFor("the first attempt", async () => {
      const res = await call("GET", `/v1/events/${event.id}`, { token: key });
      const d = res.json.deliveries[0];
      return d && d.attempts_count === 1 ? d : null;
    });
    const detail = await deliveryWithAttempts(waiting.id, key);
    expect(detail.status).toBe("pending");
    const attempt = detail.attempts[0];
    expect(attempt.error).toContain("it asked to wait 86400 s (Retry-After: 86400): any next attempt waits 3600 s, the longest Hookline waits");
    const wait = Date.parse(detail.next_attempt_at) - (Date.parse(attempt.started_at) + attempt.duration_ms);
    expect(wait).toBeGreaterThanOrEqual(3600_000);
    expect(wait).toBeLessThan(3600_000 + 10_000);
  });
});

describe.concurrent("410 Gone", () => {
  it("switches the subscription off after one attempt, says why, and skips what it still had to send", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("gone");
    const sub = await createSubscription(key, { url: target.url });
    const [delivery] = await settledDeliveries((await emit(accountId)).id, key);
    expect(delivery.status).toBe("failed");
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0]).toMatchObject({
      outcome: "http_status",
      status_code: 410,
      error: `${new URL(target.url).host} answered 410 Gone: the receiver says this endpoint is gone for good`,
    });
    const off = (await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json;
    expect(off).toMatchObject({ active: false, consecutive_failures: 1 });
    expect(off.disabled_reason).toBe("the receiver answered 410 Gone: the endpoint is gone for good");
    expect(Date.parse(off.disabled_at)).toBeGreaterThan(Date.now() - 60_000);
    expect(await healthOf(env, sub.id).read()).toEqual({ count: 1, deactivated: true });
    // Switched off: the next event is skipped and never sent.
    const [later] = await settledDeliveries((await emit(accountId)).id, key);
    expect(later.status).toBe("skipped");
    expect(await received(target.key)).toHaveLength(1);
    // Switched back on, it is sent to again (and is gone again).
    const on = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    expect(on.json).toMatchObject({ active: true, disabled_reason: null, consecutive_failures: 0 });
    await settledDeliveries((await emit(accountId)).id, key);
    expect(await received(target.key)).toHaveLength(2);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.active).toBe(false);
  });

  it("the same 410 reported twice switches off once and counts once", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("gone").url });
    const stub = healthOf(env, sub.id);
    expect(await stub.gone(sub.id, "att_1")).toEqual({ count: 1, deactivated: true });
    expect(await stub.gone(sub.id, "att_1")).toEqual({ count: 1, deactivated: true });
    const first = (await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json;
    expect(await stub.gone(sub.id, "att_2")).toEqual({ count: 2, deactivated: true });
    // Already off: the reason and the time stay those of the first.
    const again = (await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json;
    expect(again.disabled_at).toBe(first.disabled_at);
  });

  it("a test event answered 410 shows it, and leaves the subscription on (a test leaves the counter alone)", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("gone").url });
    const res = await call("POST", `/v1/subscriptions/${sub.id}/test`, { token: key });
    expect(res.json).toMatchObject({ success: false, status_code: 410 });
    expect(res.json.error).toContain("410 Gone");
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.active).toBe(true);
  });
});

describe.concurrent("attempt errors say what a person can act on, and name the host", () => {
  const host = "receiver.test";
  const testSend = async (url: string, extra: Record<string, unknown> = {}) => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { url, ...extra });
    const res = await call("POST", `/v1/subscriptions/${sub.id}/test`, { token: key });
    expect(res.status, res.text).toBe(200);
    expect(res.json.success).toBe(false);
    return res.json.error as string;
  };

  it("a redirect, with its Location", async () => {
    expect(await testSend(receiverUrl("redirect").url)).toBe(
      `${host} answered 302 Found, a redirect to https://receiver.test/ok/redirected: redirects are not followed (point the subscription at the new url if the endpoint moved)`,
    );
  });

  it("a body the format refused, saying what it wanted", async () => {
    const error = await testSend(receiverUrl("smartshape-text").url, { format: "smartshape", secret: "my-token", event_types: ["attribute_updated"] });
    expect(error).toBe(
      `${host} answered 200, not a success for this format: SmartShape counts only 200 with an application/json body {"success": true}, and this answer's content-type is "text/plain"`,
    );
  });

  it("Cloudflare's 522 and 530 (error code 1016)", async () => {
    expect(await testSend(receiverUrl("status/522").url)).toBe(
      `${host} answered 522: Cloudflare: the origin server did not accept the connection in time (connection timed out)`,
    );
    expect(await testSend(receiverUrl("cloudflare-530/1016").url)).toBe(
      `${host} answered 530: Cloudflare: the host name does not resolve (origin DNS error 1016)`,
    );
  });

  it("a timeout", async () => {
    // DELIVERY_TIMEOUT_MS is 1000 in these tests.
    expect(await testSend(receiverUrl("hang").url)).toBe(`${host} did not answer within 1000 ms`);
  });
});
