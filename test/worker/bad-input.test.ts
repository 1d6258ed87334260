/** What a client sees for bad input: problem bodies, never a 5xx, never a half-made row. */
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { app } from "../../src/app";
import {
  ADMIN,
  BASE,
  call,
  createAccount,
  createSubscription,
  expectProblem,
  MISSING_ACCOUNT_ID,
  MISSING_SUBSCRIPTION_ID,
} from "./harness";

const MiB = 1024 * 1024;

async function rowCount(table: string): Promise<number> {
  const row = await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>();
  return row!.n;
}

/** Counts of every table a /v1 write touches, to show a refused request left nothing behind. */
async function snapshot() {
  return {
    accounts: await rowCount("accounts"),
    api_keys: await rowCount("api_keys"),
    subscriptions: await rowCount("subscriptions"),
    event_types: await rowCount("event_types"),
  };
}

describe("malformed JSON", () => {
  it.each([
    ["POST", "/v1/subscriptions", '{"url": "https://example.com/hook", '],
    ["POST", "/v1/subscriptions", "{'url': 1}"],
    ["POST", "/v1/subscriptions", "not json"],
    ["POST", "/v1/accounts", '{"name": "x",}'],
    ["POST", "/v1/event-types", "{"],
  ])("%s %s %j is a 400 problem", async (method, path, rawBody) => {
    const { key } = await createAccount();
    const before = await snapshot();
    const token = path === "/v1/subscriptions" ? key : ADMIN;
    const res = await call(method, path, { token, rawBody, headers: { "content-type": "application/json" } });
    const p = expectProblem(res, 400);
    expect(p.type).toMatch(/invalid-json$/);
    expect(p.title).toBe("Malformed JSON");
    expect(await snapshot()).toEqual(before);
  });

  it("PATCH with malformed JSON is 400 and changes nothing", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { description: "kept" });
    const res = await call("PATCH", `/v1/subscriptions/${sub.id}`, {
      token: key,
      rawBody: '{"description": "lost"',
      headers: { "content-type": "application/json" },
    });
    expectProblem(res, 400);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.description).toBe("kept");
  });
});

describe("wrong types and unknown fields", () => {
  it("names every offending field", async () => {
    const { key } = await createAccount();
    const res = await call("POST", "/v1/subscriptions", {
      token: key,
      body: { url: 5, event_types: "document.updated", active: "yes", headers: { "X-A": 1 }, metadata: [] },
    });
    const p = expectProblem(res, 422);
    const paths = p.errors!.map((e) => e.path).sort();
    expect(paths).toEqual(["active", "event_types", "headers.X-A", "metadata", "url"]);
    for (const e of p.errors!) expect(e.message.length).toBeGreaterThan(0);
    expect(p.type).toMatch(/validation$/);
    for (const path of paths) expect(p.detail).toContain(path);
  });

  it.each([["[]"], ['"a string"'], ["null"], ["42"], ["true"]])("a body that is not an object (%s) is 422", async (raw) => {
    const { key } = await createAccount();
    const res = await call("POST", "/v1/subscriptions", {
      token: key,
      rawBody: raw,
      headers: { "content-type": "application/json" },
    });
    expectProblem(res, 422);
  });

  it("unknown fields are 422 with 'unknown field' on each", async () => {
    const { key } = await createAccount();
    const res = await call("POST", "/v1/subscriptions", {
      token: key,
      body: { url: "https://example.com/hook", event_types: ["*"], secrets: "x", callback: "y" },
    });
    const p = expectProblem(res, 422);
    expect(p.errors).toEqual(
      expect.arrayContaining([
        { path: "secrets", message: "unknown field" },
        { path: "callback", message: "unknown field" },
      ]),
    );
    expect((await call("GET", "/v1/subscriptions", { token: key })).json.data).toEqual([]);
  });

  it("oversized strings and arrays are 422, not stored", async () => {
    const { key } = await createAccount();
    const cases = [
      { url: `https://example.com/${"a".repeat(2100)}` },
      { description: "d".repeat(1025) },
      { event_types: Array.from({ length: 101 }, () => "*") },
      { subjects: Array.from({ length: 101 }, (_, i) => `s${i}`) },
      { headers: { "X-Big": "v".repeat(4097) } },
      { headers: Object.fromEntries(Array.from({ length: 21 }, (_, i) => [`X-H${i}`, "v"])) },
    ];
    for (const extra of cases) {
      const res = await call("POST", "/v1/subscriptions", {
        token: key,
        body: { url: "https://example.com/hook", event_types: ["*"], ...extra },
      });
      expectProblem(res, 422);
    }
    expect((await call("GET", "/v1/subscriptions", { token: key })).json.data).toEqual([]);
  });
});

describe("body size", () => {
  const bigBody = () => JSON.stringify({ url: "https://example.com/hook", event_types: ["*"], description: "x".repeat(MiB) });

  it("a body over 1 MiB is 413 naming the cap", async () => {
    const { key } = await createAccount();
    const before = await snapshot();
    const res = await call("POST", "/v1/subscriptions", {
      token: key,
      rawBody: bigBody(),
      headers: { "content-type": "application/json" },
    });
    const p = expectProblem(res, 413);
    expect(p.detail).toMatch(/1 MiB|1048576/);
    expect(await snapshot()).toEqual(before);
  });

  it("also when the body is streamed without a content-length", async () => {
    const { key } = await createAccount();
    const bytes = new TextEncoder().encode(bigBody());
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 64 * 1024) controller.enqueue(bytes.subarray(i, i + 64 * 1024));
        controller.close();
      },
    });
    const res = await exports.default.fetch(
      new Request(`${BASE}/v1/subscriptions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
        body: stream,
      }),
    );
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(((await res.json()) as { detail: string }).detail).toMatch(/1 MiB|1048576/);
  });

  it("a body just under 1 MiB is read (and judged on its fields)", async () => {
    const { key } = await createAccount();
    const body = JSON.stringify({ url: "https://example.com/hook", event_types: ["*"], description: "x".repeat(MiB - 200) });
    expect(body.length).toBeLessThan(MiB);
    const res = await call("POST", "/v1/subscriptions", {
      token: key,
      rawBody: body,
      headers: { "content-type": "application/json" },
    });
    const p = expectProblem(res, 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["description"]);
  });
});

describe("content types", () => {
  const json = JSON.stringify({ url: "https://example.com/hook", event_types: ["*"] });

  it.each([
    "text/plain",
    "text/plain;charset=UTF-8",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x",
    "application/xml",
    "application/jsonx",
  ])("a body sent as %s is 415", async (type) => {
    const { key } = await createAccount();
    const res = await call("POST", "/v1/subscriptions", { token: key, rawBody: json, headers: { "content-type": type } });
    const p = expectProblem(res, 415);
    expect(p.detail).toMatch(/application\/json/);
    expect((await call("GET", "/v1/subscriptions", { token: key })).json.data).toEqual([]);
  });

  it("a body without a content type is 415, not a 5xx", async () => {
    const { key } = await createAccount();
    const res = await exports.default.fetch(
      new Request(`${BASE}/v1/subscriptions`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
        body: new TextEncoder().encode(json),
      }),
    );
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.status).toBe(415);
  });

  it("JSON with parameters, and +json types, are accepted", async () => {
    const { key } = await createAccount("business");
    for (const type of ["application/json; charset=utf-8", "APPLICATION/JSON", "application/merge-patch+json"]) {
      const res = await call("POST", "/v1/subscriptions", { token: key, rawBody: json, headers: { "content-type": type } });
      expect(res.status, `${type}: ${res.text}`).toBe(201);
    }
  });

  it("an odd JSON content type is a 4xx problem, never a 5xx", async () => {
    const { key } = await createAccount();
    for (const type of ["application/json; charset", "application/json;;", "application/json; =x"]) {
      const res = await call("POST", "/v1/subscriptions", { token: key, rawBody: json, headers: { "content-type": type } });
      expect(res.status, `${type}: ${res.text}`).toBeLessThan(500);
      expect(res.headers.get("content-type")).toMatch(/json/);
    }
  });

  it("a POST without a body where none is needed works", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const res = await exports.default.fetch(
      new Request(`${BASE}/v1/subscriptions/${sub.id}/rotate-secret`, {
        method: "POST",
        headers: { authorization: `Bearer ${key}` },
      }),
    );
    expect(res.status).toBe(200);
  });
});

describe("ids and routes", () => {
  it("bad and missing ids are 404 problems", async () => {
    const { id, key } = await createAccount();
    for (const path of [
      `/v1/subscriptions/${MISSING_SUBSCRIPTION_ID}`,
      "/v1/subscriptions/garbage",
      `/v1/subscriptions/${"x".repeat(100)}`,
      "/v1/subscriptions/sub_%00",
      "/v1/subscriptions/%F0%9F%98%80",
      `/v1/subscriptions/${id}`, // an account id where a subscription id goes
    ]) {
      expectProblem(await call("GET", path, { token: key }), 404);
    }
    for (const path of [`/v1/accounts/${MISSING_ACCOUNT_ID}`, "/v1/accounts/garbage", "/v1/event-types/no.such"]) {
      expectProblem(await call("GET", path), 404);
    }
  });

  it("an id over the length cap is a 4xx, not a 5xx", async () => {
    const { key } = await createAccount();
    const res = await call("GET", `/v1/subscriptions/${"x".repeat(500)}`, { token: key });
    expect([404, 422]).toContain(res.status);
  });

  it("unknown routes are 404 problems", async () => {
    expectProblem(await call("GET", "/v1/nothing-here"), 404);
    expectProblem(await call("PUT", "/v1/subscriptions"), 404);
    expectProblem(await call("GET", "/nothing", { token: null }), 404);
  });
});

describe("GET /openapi.json", () => {
  it("is OpenAPI 3.1 and lists every /v1 route the app serves", async () => {
    const res = await call("GET", "/openapi.json", { token: null });
    expect(res.status).toBe(200);
    const doc = res.json;
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });

    const documented = new Set<string>();
    for (const [path, ops] of Object.entries<Record<string, unknown>>(doc.paths)) {
      for (const method of Object.keys(ops)) documented.add(`${method.toUpperCase()} ${path}`);
    }
    const expected = [
      "POST /v1/accounts",
      "GET /v1/account",
      "GET /v1/accounts/{id}",
      "PATCH /v1/accounts/{id}",
      "GET /v1/accounts/{id}/keys",
      "POST /v1/accounts/{id}/keys",
      "DELETE /v1/accounts/{id}/keys/{key_id}",
      "GET /v1/event-types",
      "POST /v1/event-types",
      "GET /v1/event-types/{name}",
      "PATCH /v1/event-types/{name}",
      "GET /v1/subscriptions",
      "POST /v1/subscriptions",
      "GET /v1/subscriptions/{id}",
      "PATCH /v1/subscriptions/{id}",
      "DELETE /v1/subscriptions/{id}",
      "GET /v1/subscriptions/{id}/secret",
      "POST /v1/subscriptions/{id}/rotate-secret",
    ];
    for (const route of expected) expect(documented, route).toContain(route);

    // Every /v1 handler the app has is in the document, whoever adds it later.
    const served = app.routes
      .filter((r) => r.path.startsWith("/v1/") && r.method !== "ALL" && !r.path.includes("*"))
      .map((r) => `${r.method} ${r.path.replace(/:(\w+)/g, "{$1}")}`);
    expect(served.length).toBeGreaterThanOrEqual(expected.length);
    for (const route of served) expect(documented, route).toContain(route);

    // Routes document their error answers as problem bodies.
    const create = doc.paths["/v1/subscriptions"].post;
    expect(create.responses["422"].content["application/problem+json"]).toBeDefined();
    expect(create.responses["201"]).toBeDefined();
  });
});

describe("no 5xx anywhere, no partial rows", () => {
  it("a spread of hostile requests all get 4xx problem bodies and store nothing", async () => {
    const { id, key } = await createAccount();
    const sub = await createSubscription(key);
    const before = await snapshot();
    const jsonHeaders = { "content-type": "application/json" };
    const requests: Array<[string, string, Parameters<typeof call>[2]]> = [
      ["POST", "/v1/accounts", { body: { name: "x".repeat(10_000) } }],
      ["POST", "/v1/accounts", { body: { name: { $gt: "" } } }],
      ["POST", "/v1/accounts", { body: { name: "ok-name", plan: null } }],
      ["POST", "/v1/accounts", { rawBody: '{"name":"a","name":"b","plan":"x"}', headers: jsonHeaders }],
      ["PATCH", `/v1/accounts/${id}`, { body: { plan: ["pro"] } }],
      ["POST", `/v1/accounts/${id}/keys`, { token: "nope" }],
      ["DELETE", `/v1/accounts/${id}/keys/'; DROP TABLE api_keys; --`, {}],
      ["POST", "/v1/event-types", { body: { name: "zz.x", schema: { $ref: "#/nowhere" } } }],
      ["POST", "/v1/event-types", { body: { name: "zz.y", schema: [] } }],
      ["PATCH", "/v1/event-types/webhook.test", { body: { deprecated: null } }],
      ["GET", "/v1/event-types?cursor=" + "z".repeat(600), {}],
      ["GET", "/v1/event-types?limit=1e3", {}],
      ["POST", "/v1/subscriptions", { token: key, body: { url: "https://example.com/h", event_types: [null] } }],
      ["POST", "/v1/subscriptions", { token: key, body: { url: "https://example.com/h", event_types: ["*"], subjects: [""] } }],
      ["POST", "/v1/subscriptions", { token: key, body: { url: "https://example.com/h", event_types: ["*"], format: null } }],
      ["POST", "/v1/subscriptions", { token: key, body: { url: "https://example.com/h", event_types: ["*"], secret: null } }],
      ["POST", "/v1/subscriptions", { token: key, body: { url: "https://[::1", event_types: ["*"] } }],
      ["POST", "/v1/subscriptions", { token: key, body: { url: "https://example.com/h", event_types: ["nope.x"], headers: { Host: "x" } } }],
      ["PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { format: "smartshape", url: "http://[fe80::1]/" } }],
      ["PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { event_types: [] } }],
      ["PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { secret: "" } }],
      ["GET", "/v1/subscriptions?cursor=" + btoa('["x","y"]'), { token: key }],
      ["GET", "/v1/subscriptions?cursor=" + btoa("[1e999, 5]"), { token: key }],
      ["GET", "/v1/subscriptions?limit=&cursor=", { token: key }],
      ["POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key, body: { secret: 5 } }],
      ["POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key, rawBody: "{", headers: jsonHeaders }],
    ];
    for (const [method, path, opts] of requests) {
      const res = await call(method, path, opts);
      expect(res.status, `${method} ${path}: ${res.text}`).toBeGreaterThanOrEqual(400);
      expect(res.status, `${method} ${path}: ${res.text}`).toBeLessThan(500);
      expect(res.headers.get("content-type"), `${method} ${path}`).toContain("application/problem+json");
    }
    expect(await snapshot()).toEqual(before);
    const read = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    const { secret: _s, ...shape } = sub;
    expect(read.json).toEqual(shape);
    expect((await call("GET", "/v1/event-types/webhook.test")).json.deprecated).toBe(false);
  });

  it("a failed account create leaves neither the account nor its key behind", async () => {
    await createAccount();
    const first = await call("POST", "/v1/accounts", { body: { name: "dup-name" } });
    expect(first.status).toBe(201);
    const before = await snapshot();
    expectProblem(await call("POST", "/v1/accounts", { body: { name: "dup-name" } }), 409);
    expect(await snapshot()).toEqual(before);
  });
});
