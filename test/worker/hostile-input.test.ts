/**
 * Bodies built to hurt: forms with tens of thousands of fields, JSON nested a hundred
 * thousand levels deep, and such a value already in the database. Each gets a 4xx
 * naming the limit, and every read path keeps answering.
 */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deliveryWithAttempts, emit, receiverUrl, settledDeliveries } from "./delivery-harness";
import { ADMIN, call, createAccount, createSubscription, expectProblem } from "./harness";
import { eventKeyOf } from "../../src/db/event-keys";

/** `[[[...1...]]]` nested `levels` deep, as JSON text. */
const nestedText = (levels: number) => "[".repeat(levels) + "1" + "]".repeat(levels);
/** `{"a":{"a":...{}}}` nested `levels` deep, as a value (built without recursion). */
function nestedObject(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

const emitRaw = (rawBody: string) => call("POST", "/v1/events", { rawBody, headers: { "content-type": "application/json" } });

describe("forms with very many fields", () => {
  it("80,000 repeated keys on the Clara face are refused naming the cap, and the Worker stays responsive", async () => {
    const who = await createAccount();
    const rawBody = "url=https://example.com/hook&" + "a[]=1&".repeat(80_000);
    const res = await call("POST", "/api/webhooks", {
      basic: [who.name, who.key],
      rawBody,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    const p = expectProblem(res, 422);
    expect(p.detail).toContain("more than 1000 fields");
    expect((await call("GET", "/api/webhooks", { basic: [who.name, who.key] })).json).toEqual([]);
    expect((await exports.default.fetch("http://hookline.test/health")).status).toBe(200);
  });

  it("a multipart body past the cap is refused the same way", async () => {
    const who = await createAccount();
    const form = new FormData();
    form.append("url", "https://example.com/hook");
    for (let i = 0; i < 1_001; i++) form.append("statuses[]", "ok");
    const req = new Request("http://hookline.test/api/webhooks", {
      method: "POST",
      headers: { authorization: "Basic " + btoa(`${who.name}:${who.key}`) },
      body: form,
    });
    const res = await exports.default.fetch(req);
    expect(res.status).toBe(422);
    expect(((await res.json()) as { detail: string }).detail).toContain("more than 1000 fields");
  });

  it("a form at the cap is read, repeated keys in order", async () => {
    const who = await createAccount();
    const statuses = Array.from({ length: 996 }, (_, i) => (i % 2 ? "ok" : "failed"));
    const rawBody = "url=https://example.com/hook&jobTypes[]=export&" + statuses.map((s) => `statuses[]=${s}`).join("&") + "&active=true";
    const res = await call("POST", "/api/webhooks", {
      basic: [who.name, who.key],
      rawBody,
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.statuses).toEqual(["failed", "ok"]);
  });
});

describe("nesting depth", () => {
  it("emit refuses data nested 100,000 levels with a 422 naming the limit, and stores nothing", async () => {
    const { id } = await createAccount();
    const before = await env.DB.prepare("SELECT count(*) AS n FROM events").first<{ n: number }>();
    const res = await emitRaw(`{"account_id":"${id}","type":"document.updated","data":${nestedText(100_000)}}`);
    const p = expectProblem(res, 422);
    expect(p.errors).toEqual([{ path: "data", message: "nested more than 64 levels of arrays and objects" }]);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM events").first<{ n: number }>()).toEqual(before);
  });

  it("64 levels are accepted, 65 refused, in a batch naming the event", async () => {
    const { id } = await createAccount();
    const ok = await call("POST", "/v1/events", { body: { account_id: id, type: "document.updated", data: nestedObject(64) } });
    expect(ok.status, ok.text).toBe(202);
    const deep = { account_id: id, type: "document.updated", data: nestedObject(65) };
    const res = await call("POST", "/v1/events", { body: { events: [{ ...deep, data: {} }, deep] } });
    expect(expectProblem(res, 422).errors).toEqual([{ path: "events.1.data", message: "nested more than 64 levels of arrays and objects" }]);
  });

  it("an event type's schema or example nested too deep is a 422, not a 500", async () => {
    const schemaRes = await call("POST", "/v1/event-types", {
      rawBody: `{"name":"deep.schema","schema":{"allOf":${nestedText(100_000)}}}`,
      headers: { "content-type": "application/json" },
    });
    expect(expectProblem(schemaRes, 422).errors?.[0].path).toBe("schema");
    const exampleRes = await call("POST", "/v1/event-types", { body: { name: "deep.example", example: nestedObject(65) } });
    expect(expectProblem(exampleRes, 422).errors?.[0].path).toBe("example");
    expect((await call("GET", "/v1/event-types/deep.schema")).status).toBe(404);
  });

  it("an event already stored that deep is listed and read, by its account and by the operator", async () => {
    const who = await createAccount();
    const data = `{"a":`.repeat(100_000) + "1" + "}".repeat(100_000);
    const eventId = "evt_00000000-0000-4000-8000-00000000dee1";
    await env.DB.prepare("INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at) VALUES (?, ?, ?, NULL, ?, ?, ?)")
      .bind(eventKeyOf(eventId), who.id, "document.updated", data, Date.now(), Date.now())
      .run();
    for (const token of [who.key, ADMIN]) {
      const list = await call("GET", `/v1/events${token === ADMIN ? `?account_id=${who.id}` : ""}`, { token });
      expect(list.status, list.text.slice(0, 300)).toBe(200);
      expect(list.text).toContain(`"data":${data}`);
      const one = await call("GET", `/v1/events/${eventId}`, { token });
      expect(one.status, one.text.slice(0, 300)).toBe(200);
      expect(one.text).toContain(`"id":"${eventId}"`);
    }
  });

  it("an event type already stored with a deep schema is listed and read; emitting it is a 422, not a 500", async () => {
    const { id } = await createAccount();
    const schema = '{"type":"object","properties":{"a":'.repeat(50_000) + "{}" + "}}".repeat(50_000);
    await env.DB.prepare("INSERT INTO event_types (name, description, schema, example, deprecated, created_at, updated_at) VALUES (?, '', ?, NULL, 0, ?, ?)")
      .bind("deep.stored", schema, Date.now(), Date.now())
      .run();
    const list = await call("GET", "/v1/event-types?limit=100");
    expect(list.status).toBe(200);
    const one = await call("GET", "/v1/event-types/deep.stored");
    expect(one.status).toBe(200);
    expect(one.text).toContain(`"schema":${schema}`);
    const res = await call("POST", "/v1/events", { body: { account_id: id, type: "deep.stored", data: { a: {} } } });
    expect(expectProblem(res, 422).errors).toEqual([{ path: "data", message: expect.stringContaining("the event type's schema cannot be applied") }]);
  });
});

describe("batch size", () => {
  it("a batch of 101 events names the limit", async () => {
    const { id } = await createAccount();
    const events = Array.from({ length: 101 }, () => ({ account_id: id, type: "document.updated", data: {} }));
    const p = expectProblem(await call("POST", "/v1/events", { body: { events } }), 422);
    expect(p.errors).toEqual([{ path: "events", message: "at most 100 events in one call" }]);
  });
});

describe("what a receiver answers", () => {
  it("a 60 KB response header is logged cut to the 4 KiB cap, like the body", async () => {
    const who = await createAccount();
    await createSubscription(who.key, { url: receiverUrl("big-headers").url });
    const event = await emit(who.id);
    const [delivery] = await settledDeliveries(event.id);
    const { attempts } = await deliveryWithAttempts(delivery.id, who.key);
    const headers = attempts[0].response_headers as Record<string, string>;
    expect(headers["x-huge"]).toMatch(/^h+$/);
    const size = Object.entries(headers).reduce((n, [k, v]) => n + k.length + v.length, 0);
    expect(size).toBeLessThanOrEqual(4096);
  });
});
