/**
 * The SmartShape face (README "SmartShape users"): the seed's curl calls as curl sends them (JSON under curl's default
 * form Content-Type), Bearer auth, the {_id, event, url} hook, and deliveries whose
 * x-smartshape-token the seed's receivers check with bcrypt. Success is only 200 +
 * application/json + {"success": true}; anything else is retried and ends `failed`.
 */
import { compareSync } from "bcryptjs";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { BASE, call, createAccount, createSubscription, expectProblem, MISSING_SUBSCRIPTION_ID, readAnswer } from "./harness";
import { deliveryWithAttempts, emit, received, receiverUrl, settledDeliveries } from "./delivery-harness";

const CURL_DEFAULT = "application/x-www-form-urlencoded";

/** The seed's create body without its stray `"[SECRET_TOKEN]"` line: the call that must work. */
const SEED_BODY = `{
        "event": "attribute_updated",
        "url": "https://my.domain.com/path/to/webhook/endpoint",
        "secretToken": "my-secret-token"
    }`;
/** The seed's create body exactly as printed, invalid JSON. */
const SEED_INVALID_BODY = `{
        "event": "attribute_updated",
        "url": "https://my.domain.com/path/to/webhook/endpoint",
        "secretToken": "my-secret-token",
        "[SECRET_TOKEN]"
    }`;

/** The seed's attribute_updated example data. */
const ATTRIBUTE_DATA = {
  user: { email: "patrick.star@smartshape.io" },
  nodeIdToAttributes: { "5b337c601e24e904da827738": { "my attribute": "myValue 42" } },
};

/**
 * A request with exactly the Content-Type given (none when null): a byte body, so the
 * Request constructor adds no text/plain of its own.
 */
async function send(method: string, path: string, key: string | null, body?: string, contentType: string | null = CURL_DEFAULT) {
  const headers = new Headers();
  if (key !== null) headers.set("authorization", `Bearer ${key}`);
  if (contentType !== null && body !== undefined) headers.set("content-type", contentType);
  const request = new Request(BASE + path, { method, headers, body: body === undefined ? undefined : new TextEncoder().encode(body) });
  expect(request.headers.get("content-type")).toBe(body === undefined ? null : contentType);
  return readAnswer(await exports.default.fetch(request));
}

const create = async (key: string, hook: { event: string; url: string; secretToken: string }) => {
  const res = await send("PUT", "/webhook/", key, JSON.stringify(hook));
  expect(res.status, res.text).toBe(200);
  return res.json as { _id: string; event: string; url: string };
};
const list = async (key: string) => {
  const res = await send("GET", "/webhook/", key);
  expect(res.status, res.text).toBe(200);
  return res.json as { _id: string; event: string; url: string }[];
};
const v1Secret = async (key: string, id: string) => (await call("GET", `/v1/subscriptions/${id}/secret`, { token: key })).json?.secret;

describe.concurrent("SmartShape: creating, listing and deleting hooks as the seed's curl does", () => {
  it("PUT /webhook/ with the seed's JSON under curl's default form Content-Type creates the hook", async () => {
    const { key } = await createAccount();
    const res = await send("PUT", "/webhook/", key, SEED_BODY, CURL_DEFAULT);
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.json).toEqual({
      _id: expect.stringMatching(/^sub_[0-9a-f-]{36}$/),
      event: "attribute_updated",
      url: "https://my.domain.com/path/to/webhook/endpoint",
    });
    expect(res.text).not.toContain("my-secret-token");

    const stored = await call("GET", `/v1/subscriptions/${res.json._id}`, { token: key });
    expect(stored.json).toMatchObject({
      format: "smartshape",
      event_types: ["attribute_updated"],
      subjects: null,
      active: true,
      url: "https://my.domain.com/path/to/webhook/endpoint",
    });
    expect(await v1Secret(key, res.json._id)).toBe("my-secret-token");
    expect(await list(key)).toEqual([res.json]);
  });

  it("PUT /webhook (no slash) works too, with application/json, text/plain or no Content-Type at all", async () => {
    const { key } = await createAccount("business");
    const made: string[] = [];
    for (const [path, type] of [
      ["/webhook", CURL_DEFAULT],
      ["/webhook", "application/json"],
      ["/webhook/", "application/json; charset=utf-8"],
      ["/webhook", null],
      ["/webhook/", "text/plain"],
    ] as const) {
      const res = await send("PUT", path, key, SEED_BODY, type);
      expect(res.status, `${path} ${type}: ${res.text}`).toBe(200);
      expect(res.json).toMatchObject({ event: "attribute_updated", url: "https://my.domain.com/path/to/webhook/endpoint" });
      made.push(res.json._id);
    }
    expect(new Set(made).size).toBe(5);
    expect((await list(key)).map((h) => h._id)).toEqual(made);
    // GET without the slash is the same listing.
    const noSlash = await send("GET", "/webhook", key);
    expect(noSlash.status).toBe(200);
    expect(noSlash.json).toEqual(await list(key));
  });

  it("the seed's example with the stray \"[SECRET_TOKEN]\" line is a 400 problem saying where the JSON broke", async () => {
    const { key } = await createAccount();
    const res = await send("PUT", "/webhook/", key, SEED_INVALID_BODY, CURL_DEFAULT);
    const p = expectProblem(res, 400);
    expect(p.detail).toMatch(/not valid JSON/);
    // After the stray string the parser wanted a ':' and found the closing brace (line 6, column 5).
    const where = SEED_INVALID_BODY.lastIndexOf("}");
    expect(p.detail).toContain(`Expected ':' after property name`);
    expect(p.detail).toContain(`position ${where}`);
    expect(p.detail).toContain("line 6 column 5");
    expect(await list(key)).toEqual([]);
    // Under application/json it is the same 400.
    expectProblem(await send("PUT", "/webhook", key, SEED_INVALID_BODY, "application/json"), 400);
    // An empty body is not JSON either.
    expectProblem(await send("PUT", "/webhook/", key, ""), 400);
  });

  it("an unknown event, a missing secretToken, url or event is 422 naming the field; nothing is created", async () => {
    const { key } = await createAccount();
    const good = { event: "attribute_updated", url: "https://my.domain.com/hook", secretToken: "my-secret-token" };
    const unknown = expectProblem(await send("PUT", "/webhook/", key, JSON.stringify({ ...good, event: "attribute_deleted" })), 422);
    expect(unknown.errors).toEqual([{ path: "event", message: expect.stringContaining("attribute_updated") }]);
    for (const missing of ["secretToken", "url", "event"] as const) {
      const body: Record<string, string> = { ...good };
      delete body[missing];
      const p = expectProblem(await send("PUT", "/webhook/", key, JSON.stringify(body)), 422);
      expect(p.errors!.map((e) => e.path)).toEqual([missing]);
    }
    const emptyToken = expectProblem(await send("PUT", "/webhook/", key, JSON.stringify({ ...good, secretToken: "" })), 422);
    expect(emptyToken.errors!.map((e) => e.path)).toEqual(["secretToken"]);
    // A trivial token (the seed: "must be set to a non-trivial" value) is refused, naming the field the caller sent.
    const trivial = expectProblem(await send("PUT", "/webhook/", key, JSON.stringify({ ...good, secretToken: "abc" })), 422);
    expect(trivial.errors).toEqual([{ path: "secretToken", message: expect.stringContaining("8") }]);
    expect(trivial.detail).toMatch(/^secretToken: /);
    const privateUrl = expectProblem(await send("PUT", "/webhook/", key, JSON.stringify({ ...good, url: "http://192.168.1.10/hook" })), 422);
    expect(privateUrl.errors!.map((e) => e.path)).toEqual(["url"]);
    expect(await list(key)).toEqual([]);
  });

  it("a deprecated event is 422 naming the event field (no other test here uses configuration_updated)", async () => {
    const { key } = await createAccount();
    expect((await call("PATCH", "/v1/event-types/configuration_updated", { body: { deprecated: true } })).status).toBe(200);
    try {
      const body = JSON.stringify({ event: "configuration_updated", url: "https://d.example.com/cb", secretToken: "my-secret-token" });
      const p = expectProblem(await send("PUT", "/webhook/", key, body), 422);
      expect(p.errors).toEqual([{ path: "event", message: expect.stringContaining("deprecated") }]);
      expect(await list(key)).toEqual([]);
    } finally {
      expect((await call("PATCH", "/v1/event-types/configuration_updated", { body: { deprecated: false } })).status).toBe(200);
    }
  });

  it("a plain http public url is accepted (the format allows http) with ALLOW_INSECURE_TARGETS off", async () => {
    const { key } = await createAccount();
    const hook = await create(key, { event: "file_uploaded", url: "http://smartshape.io.test/callback", secretToken: "my-secret-token" });
    expect(hook).toMatchObject({ event: "file_uploaded", url: "http://smartshape.io.test/callback" });
  });

  it("GET is a bare array [{_id, event, url}] of the account's smartshape hooks only; no token echoed", async () => {
    const who = await createAccount("business");
    const a = await create(who.key, { event: "attribute_updated", url: "https://a.example.com/cb", secretToken: "token-aaaaaaaa" });
    const b = await create(who.key, { event: "annotation_created", url: "https://b.example.com/cb", secretToken: "token-bbbbbbbb" });
    const standard = await createSubscription(who.key);
    const clara = await call("POST", "/api/webhooks", {
      basic: [who.name, who.key],
      body: { url: "https://c.example.com/cb", jobTypes: ["export"], statuses: ["ok"] },
    });
    expect(clara.status).toBe(200);
    const other = await createAccount();
    await create(other.key, { event: "attribute_updated", url: "https://other.example.com/cb", secretToken: "token-cccccccc" });

    const res = await send("GET", "/webhook/", who.key);
    expect(res.status).toBe(200);
    expect(res.json).toEqual([a, b]);
    for (const hook of res.json) expect(Object.keys(hook).sort()).toEqual(["_id", "event", "url"]);
    expect(res.text).not.toContain("token-");
    // /v1 sees every format.
    const all = await call("GET", "/v1/subscriptions", { token: who.key });
    expect(all.json.data.map((s: any) => s.id).sort()).toEqual([a._id, b._id, standard.id, clara.json._id].sort());
  });

  it("DELETE /webhook/{id} and /webhook/{id}/ answer 200 with the hook; it is gone afterwards", async () => {
    const { key } = await createAccount();
    const a = await create(key, { event: "attribute_updated", url: "https://a.example.com/cb", secretToken: "token-aaaaaaaa" });
    const b = await create(key, { event: "file_optimized", url: "https://b.example.com/cb", secretToken: "token-bbbbbbbb" });
    const c = await create(key, { event: "configuration_removed", url: "https://c.example.com/cb", secretToken: "token-cccccccc" });
    const first = await send("DELETE", `/webhook/${a._id}`, key);
    expect(first.status, first.text).toBe(200);
    expect(first.json).toEqual(a);
    const second = await send("DELETE", `/webhook/${b._id}/`, key);
    expect(second.status, second.text).toBe(200);
    expect(second.json).toEqual(b);
    expect(await list(key)).toEqual([c]);
    expect((await call("GET", `/v1/subscriptions/${a._id}`, { token: key })).status).toBe(404);
    expectProblem(await send("DELETE", `/webhook/${a._id}`, key), 404);
  });

  it("another account's id, another format's id or a missing id is 404, and nothing is deleted", async () => {
    const who = await createAccount();
    const other = await createAccount();
    const theirs = await create(other.key, { event: "attribute_updated", url: "https://o.example.com/cb", secretToken: "token-oooooooo" });
    const standard = await createSubscription(who.key);
    for (const id of [theirs._id, standard.id, MISSING_SUBSCRIPTION_ID, "5c6aeed079bf3f432d3c929e"]) {
      expectProblem(await send("DELETE", `/webhook/${id}`, who.key), 404);
    }
    expect(await list(other.key)).toEqual([theirs]);
    expect((await call("GET", `/v1/subscriptions/${standard.id}`, { token: who.key })).status).toBe(200);
  });

  it("Bearer auth is required: none or a wrong key is 401; the operator is 403", async () => {
    const { key } = await createAccount();
    expectProblem(await send("PUT", "/webhook/", null, SEED_BODY), 401);
    expectProblem(await send("GET", "/webhook/", null), 401);
    expectProblem(await send("DELETE", `/webhook/${MISSING_SUBSCRIPTION_ID}`, null), 401);
    expectProblem(await send("PUT", "/webhook", "hk_wrong", SEED_BODY), 401);
    expectProblem(await send("GET", "/webhook", "hk_wrong"), 401);
    expectProblem(await send("GET", "/webhook/", "test-admin-token"), 403);
    expect(await list(key)).toEqual([]);
  });

  it("the plan cap applies: pro allows 3 subscriptions, the 4th PUT is 403", async () => {
    const { key } = await createAccount("pro");
    for (let i = 0; i < 3; i++) await create(key, { event: "attribute_updated", url: `https://x${i}.example.com/cb`, secretToken: "my-secret-token" });
    const p = expectProblem(await send("PUT", "/webhook/", key, SEED_BODY), 403);
    expect(p.detail).toContain("3");
    expect(await list(key)).toHaveLength(3);
  });
});

describe.concurrent("SmartShape: deliveries as the seed's receivers check them", () => {
  it("attribute_updated arrives as {file, event, data, owner, runTimestamp, uuid}; the token verifies with bcrypt", async () => {
    const who = await createAccount();
    const target = receiverUrl("smartshape");
    const hook = await create(who.key, { event: "attribute_updated", url: target.url, secretToken: "my-secret-token" });
    const timestamp = "2019-02-22T08:41:46.016Z";
    const event = await emit(who.id, "attribute_updated", ATTRIBUTE_DATA, { subject: "5c6aeed079bf3f432d3c929e", timestamp });
    expect(event.deliveries).toBe(1);
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");

    const [req] = await received(target.key);
    expect(req.method).toBe("POST");
    expect(req.headers["content-type"]).toBe("application/json");
    const payload = JSON.parse(req.body);
    expect(payload).toEqual({
      file: "5c6aeed079bf3f432d3c929e",
      event: "attribute_updated",
      data: ATTRIBUTE_DATA,
      owner: `${who.name}@example.com`,
      runTimestamp: 1550824906016,
      uuid: event.id.replace(/^evt_/, ""),
    });
    // The seed's field order.
    expect(Object.keys(payload)).toEqual(["file", "event", "data", "owner", "runTimestamp", "uuid"]);
    expect(payload.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(Date.parse(timestamp)).toBe(payload.runTimestamp);

    const token = req.headers["x-smartshape-token"];
    expect(token).toMatch(/^\$2[aby]\$10\$/);
    expect(compareSync("my-secret-token", token)).toBe(true);
    expect(compareSync("actual-webhook-secret-token", token)).toBe(false);
    expect(req.body).not.toContain("my-secret-token");

    const detail = await deliveryWithAttempts(delivery.id, who.key);
    expect(detail).toMatchObject({ subscription_id: hook._id, attempts_count: 1 });
    expect(detail.attempts[0]).toMatchObject({ outcome: "success", status_code: 200 });
  });

  it("owner is the account's name when it has no email; runTimestamp is the emit time when none is given", async () => {
    const name = `ss-noemail-${Date.now().toString(36)}`;
    const acct = await call("POST", "/v1/accounts", { body: { name } });
    expect(acct.status, acct.text).toBe(201);
    expect(acct.json.email).toBeNull();
    const key = acct.json.api_key.key as string;
    const target = receiverUrl("smartshape");
    await create(key, { event: "file_uploaded", url: target.url, secretToken: "another-token-1" });
    const before = Date.now();
    const event = await emit(acct.json.id, "file_uploaded", { _id: "5c6fb52c194afb281976f5e4", size: 6581919 }, { subject: "5c6fb52c194afb281976f5e4" });
    const after = Date.now();
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    const [req] = await received(target.key);
    const payload = JSON.parse(req.body);
    expect(payload.owner).toBe(name);
    expect(payload.file).toBe("5c6fb52c194afb281976f5e4");
    expect(payload.event).toBe("file_uploaded");
    expect(payload.runTimestamp).toBeGreaterThanOrEqual(before - 1000);
    expect(payload.runTimestamp).toBeLessThanOrEqual(after + 1000);
    const stored = await call("GET", `/v1/events/${event.id}`, { token: key });
    expect(payload.runTimestamp).toBe(Date.parse(stored.json.timestamp));
    expect(compareSync("another-token-1", req.headers["x-smartshape-token"])).toBe(true);
  });

  it("a hook gets only its own event", async () => {
    const who = await createAccount();
    const target = receiverUrl("smartshape");
    await create(who.key, { event: "annotation_created", url: target.url, secretToken: "my-secret-token" });
    expect((await emit(who.id, "annotation_removed", { _id: "a1" }, { subject: "f1" })).deliveries).toBe(0);
    const hit = await emit(who.id, "annotation_created", { _id: "a2" }, { subject: "f1" });
    expect(hit.deliveries).toBe(1);
    await settledDeliveries(hit.id);
    const reqs = await received(target.key);
    expect(reqs.map((r) => JSON.parse(r.body).event)).toEqual(["annotation_created"]);
  });

  it("200 + application/json with parameters + {\"success\": true, ...} is a success", async () => {
    const who = await createAccount();
    const target = receiverUrl("smartshape-charset");
    await create(who.key, { event: "attribute_updated", url: target.url, secretToken: "my-secret-token" });
    const event = await emit(who.id, "attribute_updated", ATTRIBUTE_DATA, { subject: "f" });
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    expect(await received(target.key)).toHaveLength(1);
  });

  it("a receiver that answers {\"success\": false} twice is retried, then delivered on the right answer", async () => {
    const who = await createAccount();
    const target = receiverUrl("smartshape-flaky/2");
    await create(who.key, { event: "attribute_updated", url: target.url, secretToken: "my-secret-token" });
    const event = await emit(who.id, "attribute_updated", ATTRIBUTE_DATA, { subject: "f" });
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    const detail = await deliveryWithAttempts(delivery.id, who.key);
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code])).toEqual([
      [1, "http_status", 200],
      [2, "http_status", 200],
      [3, "success", 200],
    ]);
    expect(await received(target.key)).toHaveLength(3);
  });

  for (const [behaviour, status, what] of [
    ["smartshape-false", 200, '200 application/json {"success": false}'],
    ["smartshape-text", 200, '200 text/plain {"success": true}'],
    ["smartshape-201", 201, '201 application/json {"success": true}'],
    ["smartshape-string", 200, '200 application/json {"success": "true"}'],
    ["smartshape-empty", 200, "200 application/json with no body"],
    ["smartshape-500", 500, '500 application/json {"success": true}'],
    ["ok", 200, '200 application/json {"received": true}'],
  ] as const) {
    it(`${what} is not a success: retried, then failed after 4 attempts`, async () => {
      const who = await createAccount();
      const target = receiverUrl(behaviour);
      const hook = await create(who.key, { event: "attribute_updated", url: target.url, secretToken: "my-secret-token" });
      const event = await emit(who.id, "attribute_updated", ATTRIBUTE_DATA, { subject: "5c6aeed079bf3f432d3c929e" });
      const [delivery] = await settledDeliveries(event.id);
      expect(delivery.status).toBe("failed");
      const detail = await deliveryWithAttempts(delivery.id, who.key);
      expect(detail.attempts_count).toBe(4);
      expect(detail.next_attempt_at).toBeNull();
      expect(detail.attempts.map((a: any) => a.number)).toEqual([1, 2, 3, 4]);
      for (const a of detail.attempts) {
        expect(a.outcome).toBe("http_status");
        expect(a.status_code).toBe(status);
        expect(a.error).toEqual(expect.any(String));
      }
      const reqs = await received(target.key);
      expect(reqs).toHaveLength(4);
      // Every attempt carried the same verifiable token and the same body.
      for (const r of reqs) expect(compareSync("my-secret-token", r.headers["x-smartshape-token"])).toBe(true);
      expect(new Set(reqs.map((r) => r.body)).size).toBe(1);
      const sub = await call("GET", `/v1/subscriptions/${hook._id}`, { token: who.key });
      expect(sub.json.consecutive_failures).toBe(4);
    });
  }
});
