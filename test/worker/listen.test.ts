import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, call, createAccount, createSubscription, expectProblem } from "./harness";
import { deliveryWithAttempts, emit, settledDeliveries, waitFor } from "./delivery-harness";

interface DeliveryMessage {
  type: "delivery";
  delivery_id: string;
  attempt: number;
  headers: Record<string, string>;
  body: string;
}

/** Connects as the CLI does; `answer` decides each acknowledgement (null: never answer). */
async function connect(sessionId: string, key: string, answer: (m: DeliveryMessage) => object | null) {
  const res = await exports.default.fetch(`${BASE}/v1/listen/${sessionId}/connect`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${key}` },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();
  const received: DeliveryMessage[] = [];
  ws.addEventListener("message", (e) => {
    const m = JSON.parse(e.data as string) as DeliveryMessage;
    received.push(m);
    const ack = answer(m);
    if (ack) ws.send(JSON.stringify({ type: "ack", delivery_id: m.delivery_id, ...ack }));
  });
  return { ws, received };
}

const smartshapeOk = { status: 200, headers: { "content-type": "application/json" }, body: '{"success":true}' };

describe("webhook listen, server side", () => {
  it("opens a session, delivers over the WebSocket in the session's format, and records the CLI's answer", async () => {
    const { id: accountId, key } = await createAccount();
    const opened = await call("POST", "/v1/listen", { token: key, body: { event_types: ["attribute_updated", "file_uploaded"] } });
    expect(opened.status, opened.text).toBe(201);
    expect(opened.json.id).toMatch(/^lsn_/);
    expect(opened.json.subscriptions.map((s: any) => [s.event_types, s.format])).toEqual([
      [["attribute_updated"], "smartshape"],
      [["file_uploaded"], "smartshape"],
    ]);
    const { ws, received } = await connect(opened.json.id, key, () => smartshapeOk);
    const event = await emit(accountId, "attribute_updated", { nodeIdToAttributes: { n1: { a: 1 } } }, { subject: "file-1" });
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    expect(received).toHaveLength(1);
    expect(received[0].delivery_id).toBe(delivery.id);
    expect(JSON.parse(received[0].body)).toMatchObject({ file: "file-1", event: "attribute_updated", data: { nodeIdToAttributes: { n1: { a: 1 } } } });
    expect(received[0].headers["x-smartshape-token"]).toMatch(/^\$2[aby]\$10\$/);
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts[0]).toMatchObject({ outcome: "success", status_code: 200, response_body: '{"success":true}' });
    ws.close();
  });

  it("a listener that answers without the success body fails the attempt, and it is retried like any endpoint", async () => {
    const { id: accountId, key } = await createAccount();
    const opened = await call("POST", "/v1/listen", { token: key, body: { event_types: ["file_uploaded"] } });
    let n = 0;
    const { ws } = await connect(opened.json.id, key, () => (++n === 1 ? { status: 500, body: "boom" } : smartshapeOk));
    const [delivery] = await settledDeliveries((await emit(accountId, "file_uploaded", {})).id);
    expect(delivery.status).toBe("delivered");
    const detail = await deliveryWithAttempts(delivery.id, key);
    expect(detail.attempts.map((a: any) => [a.outcome, a.status_code])).toEqual([
      ["http_status", 500],
      ["success", 200],
    ]);
    ws.close();
  });

  it("without a connected listener the attempt fails (503) and waits for a retry", async () => {
    const { id: accountId, key } = await createAccount();
    const opened = await call("POST", "/v1/listen", { token: key, body: { event_types: ["document.created"], format: "standard" } });
    const event = await emit(accountId, "document.created", {});
    const detail = await waitFor("a failed attempt", async () => {
      const ev = await call("GET", `/v1/events/${event.id}`, { token: key });
      const d = await deliveryWithAttempts(ev.json.deliveries[0].id, key);
      return d.attempts.length > 0 ? d : null;
    });
    expect(detail.attempts[0]).toMatchObject({ outcome: "http_status", status_code: 503 });
    expect(opened.json.subscriptions[0].format).toBe("standard");
  });

  it("does not count toward the plan; at most 3 sessions; DELETE removes its subscriptions; others' sessions are 404", async () => {
    const { key } = await createAccount("pro");
    const other = await createAccount();
    for (let i = 0; i < 3; i++) await createSubscription(key);
    const sessions = [];
    for (let i = 0; i < 3; i++) {
      const res = await call("POST", "/v1/listen", { token: key, body: { event_types: ["attribute_updated"] } });
      expect(res.status, res.text).toBe(201);
      sessions.push(res.json.id);
    }
    const fourth = await call("POST", "/v1/listen", { token: key, body: { event_types: ["attribute_updated"] } });
    expect(expectProblem(fourth, 403).detail).toContain("3 listen sessions");
    expectProblem(await call("DELETE", `/v1/listen/${sessions[0]}`, { token: other.key }), 404);
    const closed = await call("DELETE", `/v1/listen/${sessions[0]}`, { token: key });
    expect(closed.status).toBe(204);
    const list = await call("GET", "/v1/subscriptions", { token: key });
    expect(list.json.data.filter((s: any) => s.url.startsWith("listen://"))).toHaveLength(2);
    expect((await call("POST", "/v1/listen", { token: key, body: { event_types: ["attribute_updated"] } })).status).toBe(201);
    // The SmartShape face lists only the account's own hooks, not listen subscriptions.
    expect((await call("GET", "/webhook/", { token: key })).json).toEqual([]);
  });

  it("a session nobody connects to is closed when its lease runs out (the sweep's safety net too)", async () => {
    const { key } = await createAccount();
    const opened = await call("POST", "/v1/listen", { token: key, body: { event_types: ["attribute_updated"] } });
    await env.DB.prepare("UPDATE listen_sessions SET expires_at = ? WHERE id = ?").bind(Date.now() - 1, opened.json.id).run();
    await exports.default.scheduled();
    const list = await call("GET", "/v1/subscriptions", { token: key });
    expect(list.json.data).toEqual([]);
    expectProblem(await call("DELETE", `/v1/listen/${opened.json.id}`, { token: key }), 404);
  });

  it("refuses unknown event types and a connect without a WebSocket", async () => {
    const { key } = await createAccount();
    expectProblem(await call("POST", "/v1/listen", { token: key, body: { event_types: ["nope.nope"] } }), 422);
    const opened = await call("POST", "/v1/listen", { token: key, body: { event_types: ["attribute_updated"] } });
    expectProblem(await call("GET", `/v1/listen/${opened.json.id}/connect`, { token: key }), 400);
  });
});
