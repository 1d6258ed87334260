import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { healthOf } from "../../src/delivery/health";
import { call, createAccount, createSubscription, expectProblem } from "./harness";
import { deliveryWithAttempts, emit, received, receiverUrl, settledDeliveries, waitFor } from "./delivery-harness";

describe.concurrent("test events, redelivery and recovery", () => {
  it("sends a test event now, answers its outcome, logs it, and leaves the failure counter alone", async () => {
    const { key } = await createAccount();
    const ok = receiverUrl("ok");
    const sub = await createSubscription(key, { url: ok.url, event_types: ["document.updated"] });
    const res = await call("POST", `/v1/subscriptions/${sub.id}/test`, { token: key });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ success: true, status_code: 200, response_body: '{"received":true}', error: null });
    expect(res.json.duration_ms).toBeGreaterThanOrEqual(0);
    const [req] = await received(ok.key);
    // The catalog example of the first subscribed type.
    expect(JSON.parse(req.body)).toMatchObject({ type: "document.updated", data: { title: "Updated Document" } });
    const log = await call("GET", `/v1/subscriptions/${sub.id}/deliveries`, { token: key });
    expect(log.json.data).toHaveLength(1);
    expect(log.json.data[0]).toMatchObject({ id: res.json.delivery_id, status: "delivered", attempts_count: 1 });

    const bad = receiverUrl("status/500");
    const failing = await createSubscription(key, { url: bad.url });
    const failed = await call("POST", `/v1/subscriptions/${failing.id}/test`, { token: key });
    expect(failed.json).toMatchObject({ success: false, status_code: 500, response_body: "answered 500" });
    const after = await call("GET", `/v1/subscriptions/${failing.id}`, { token: key });
    expect(after.json.consecutive_failures).toBe(0);
    expect(await healthOf(env, failing.id).read()).toEqual({ count: 0, deactivated: false });
    // Only once: a test event is not retried.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await received(bad.key)).toHaveLength(1);
  });

  it("redelivers a failed delivery with a fresh series of attempts and the same webhook-id", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("flaky/4");
    await createSubscription(key, { url: target.url });
    const [failed] = await settledDeliveries((await emit(accountId)).id);
    expect(failed.status).toBe("failed");
    const res = await call("POST", `/v1/deliveries/${failed.id}/redeliver`, { token: key });
    expect(res.status, res.text).toBe(202);
    expect(res.json.status).toBe("pending");
    const detail = await waitFor("redelivery", async () => {
      const d = await deliveryWithAttempts(failed.id, key);
      return d.status === "delivered" ? d : null;
    });
    expect(detail.attempts.map((a: any) => [a.number, a.outcome])).toEqual([
      [1, "http_status"],
      [2, "http_status"],
      [3, "http_status"],
      [4, "http_status"],
      [5, "success"],
    ]);
    const ids = new Set((await received(target.key)).map((r) => r.headers["webhook-id"]));
    expect(ids).toEqual(new Set([failed.id]));
    // A delivered one can be sent again too; while it is pending, a second redeliver is refused.
    const again = await call("POST", `/v1/deliveries/${failed.id}/redeliver`, { token: key });
    expect(again.status).toBe(202);
    const twice = await call("POST", `/v1/deliveries/${failed.id}/redeliver`, { token: key });
    expect(expectProblem(twice, 409).detail).toContain("in progress");
  });

  it("recovers every failed delivery since a time once the endpoint is fixed", async () => {
    const { id: accountId, key } = await createAccount();
    const broken = receiverUrl("status/500");
    const sub = await createSubscription(key, { url: broken.url });
    const since = new Date(Date.now() - 1000).toISOString();
    const events = [await emit(accountId), await emit(accountId)];
    for (const e of events) expect((await settledDeliveries(e.id))[0].status).toBe("failed");
    const fixed = receiverUrl("ok");
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { url: fixed.url } });
    const res = await call("POST", `/v1/subscriptions/${sub.id}/recover`, { token: key, body: { since } });
    expect(res.status, res.text).toBe(202);
    expect(res.json).toEqual({ deliveries: 2 });
    for (const e of events) {
      await waitFor("recovered", async () => (await settledDeliveries(e.id))[0].status === "delivered");
    }
    expect(await received(fixed.key)).toHaveLength(2);
  });

  it("refuses to redeliver or recover while the subscription is switched off", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url, active: false });
    const [skipped] = await settledDeliveries((await emit(accountId)).id);
    expect(skipped.status).toBe("skipped");
    const p = expectProblem(await call("POST", `/v1/deliveries/${skipped.id}/redeliver`, { token: key }), 409);
    expect(p.detail).toContain("switched off");
    expectProblem(
      await call("POST", `/v1/subscriptions/${sub.id}/recover`, { token: key, body: { since: new Date(0).toISOString() } }),
      409,
    );
  });

  it("another account's deliveries and subscriptions answer 404 on every route", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const sub = await createSubscription(a.key, { url: receiverUrl("ok").url });
    const [d] = await settledDeliveries((await emit(a.id)).id);
    for (const [method, path, body] of [
      ["GET", `/v1/deliveries/${d.id}`],
      ["POST", `/v1/deliveries/${d.id}/redeliver`],
      ["GET", `/v1/subscriptions/${sub.id}/deliveries`],
      ["POST", `/v1/subscriptions/${sub.id}/test`],
      ["POST", `/v1/subscriptions/${sub.id}/recover`, { since: new Date(0).toISOString() }],
    ] as const) {
      expectProblem(await call(method, path, { token: b.key, body }), 404);
    }
    const own = await call("GET", `/v1/deliveries/${d.id}`, { token: a.key });
    expect(own.json.attempts).toHaveLength(1);
  });

  it("filters a subscription's deliveries by status", async () => {
    const { id: accountId, key } = await createAccount();
    const sub = await createSubscription(key, { url: receiverUrl("ok").url, event_types: ["*"] });
    await settledDeliveries((await emit(accountId)).id);
    await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: false } });
    await settledDeliveries((await emit(accountId)).id);
    const delivered = await call("GET", `/v1/subscriptions/${sub.id}/deliveries?status=delivered`, { token: key });
    const skipped = await call("GET", `/v1/subscriptions/${sub.id}/deliveries?status=skipped`, { token: key });
    expect(delivered.json.data.map((x: any) => x.status)).toEqual(["delivered"]);
    expect(skipped.json.data.map((x: any) => x.status)).toEqual(["skipped"]);
    expectProblem(await call("GET", `/v1/subscriptions/${sub.id}/deliveries?status=lost`, { token: key }), 422);
  });
});
