/** /v1/subscriptions (shapes, formats, target urls, auth). */
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createAccount, createSubscription, expectProblem, listAll, MISSING_SUBSCRIPTION_ID } from "./harness";

const URL_OK = "https://example.com/hook";
const STANDARD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

const post = (key: string, body: Record<string, unknown>) => call("POST", "/v1/subscriptions", { token: key, body });

async function count(key: string) {
  return (await listAll("/v1/subscriptions", key, 100)).items.length;
}

const PUBLIC_FIELDS = [
  "active",
  "consecutive_failures",
  "created_at",
  "description",
  "disabled_at",
  "disabled_reason",
  "event_types",
  "format",
  "headers",
  "id",
  "metadata",
  "subjects",
  "throttle_rate",
  "updated_at",
  "url",
];

describe("create", () => {
  it("with every field: the answer carries them and the secret; reads carry them without it", async () => {
    const { key } = await createAccount();
    const body = {
      url: "https://receiver.example.com/hooks?x=1",
      event_types: ["document.*", "project.created"],
      subjects: ["doc-1", "doc-2"],
      description: "docs to the CMS",
      format: "standard",
      headers: { "X-Team": "cms", Authorization: "Bearer downstream" },
      metadata: { owner: "alice", "cost-center": "42" },
      active: false,
      secret: STANDARD_SECRET,
      throttle_rate: 50,
    };
    const res = await post(key, body);
    expect(res.status, res.text).toBe(201);
    const { secret, ...rest } = body;
    expect(res.json).toEqual({
      id: expect.stringMatching(/^sub_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      ...rest,
      secret,
      disabled_reason: null,
      disabled_at: null,
      consecutive_failures: 0,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(res.json.created_at).toBe(res.json.updated_at);
    expect(Math.abs(Date.parse(res.json.created_at) - Date.now())).toBeLessThan(60_000);

    const read = await call("GET", `/v1/subscriptions/${res.json.id}`, { token: key });
    expect(read.status).toBe(200);
    const { secret: _s, ...withoutSecret } = res.json;
    expect(read.json).toEqual(withoutSecret);
    expect(Object.keys(read.json).sort()).toEqual(PUBLIC_FIELDS);
    expect(read.text).not.toContain(STANDARD_SECRET);
    const list = await call("GET", "/v1/subscriptions", { token: key });
    expect(list.json.data).toEqual([withoutSecret]);
    expect(list.text).not.toContain(STANDARD_SECRET);
  });

  it("with only url and event_types: the defaults", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { url: URL_OK, event_types: ["*"] });
    expect(sub).toMatchObject({
      url: URL_OK,
      event_types: ["*"],
      subjects: null,
      description: "",
      format: "standard",
      headers: {},
      metadata: {},
      active: true,
      disabled_reason: null,
      disabled_at: null,
      consecutive_failures: 0,
      throttle_rate: null,
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]+=*$/),
    });
  });

  it("needs url and event_types, with at least one pattern", async () => {
    const { key } = await createAccount();
    let p = expectProblem(await post(key, { event_types: ["*"] }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["url"]);
    p = expectProblem(await post(key, { url: URL_OK }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["event_types"]);
    p = expectProblem(await post(key, { url: URL_OK, event_types: [] }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["event_types"]);
    expect(await count(key)).toBe(0);
  });

  it("the operator cannot create one (it has no account): 403", async () => {
    expectProblem(await call("POST", "/v1/subscriptions", { body: { url: URL_OK, event_types: ["*"] } }), 403);
  });
});

describe("event type patterns", () => {
  it("accepts *, prefixes such as document.* and catalog names", async () => {
    const { key } = await createAccount();
    for (const event_types of [["*"], ["document.*"], ["renderFrame.ok", "file_uploaded", "webhook.test"]]) {
      const res = await post(key, { url: URL_OK, event_types });
      expect(res.status, res.text).toBe(201);
      expect(res.json.event_types).toEqual(event_types);
    }
  });

  it("an unknown type or a prefix with nothing under it is 422 naming it", async () => {
    const { key } = await createAccount();
    const p = expectProblem(
      await post(key, { url: URL_OK, event_types: ["document.updated", "invoice.paid", "nothing.*"] }),
      422,
    );
    expect(p.errors).toEqual([
      { path: "event_types.1", message: expect.stringContaining("invoice.paid") },
      { path: "event_types.2", message: expect.stringContaining("nothing.*") },
    ]);
    expect(p.detail).toContain("invoice.paid");
    expect(await count(key)).toBe(0);
  });

  it.each(["doc*", "*.updated", "document.**", "", "document."])("a malformed pattern %j is 422", async (pattern) => {
    const { key } = await createAccount();
    const p = expectProblem(await post(key, { url: URL_OK, event_types: ["document.updated", pattern] }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["event_types.1"]);
  });
});

describe("secrets per format", () => {
  it("standard: generated whsec_ when absent, kept when given in form, 422 otherwise", async () => {
    const { key } = await createAccount("business");
    const generated = await createSubscription(key, {});
    expect(generated.secret).toMatch(/^whsec_/);
    const b64 = generated.secret.slice(6);
    expect(atob(b64).length).toBeGreaterThanOrEqual(24);
    const given = await createSubscription(key, { secret: STANDARD_SECRET });
    expect(given.secret).toBe(STANDARD_SECRET);

    for (const secret of ["plain-secret-of-another-form", "whsec_tooShort", "whsec_!!!not base64!!!", "whsec_"]) {
      const p = expectProblem(await post(key, { url: URL_OK, event_types: ["*"], secret }), 422);
      expect(p.errors?.map((e) => e.path), secret).toEqual(["secret"]);
    }
    expect(await count(key)).toBe(2);
  });

  it("clarife: generated when absent, any 8-256 characters when given", async () => {
    const { key } = await createAccount("business");
    const generated = await createSubscription(key, { format: "clarife" });
    expect(typeof generated.secret).toBe("string");
    expect(generated.secret.length).toBeGreaterThanOrEqual(32);
    const given = await createSubscription(key, { format: "clarife", secret: "my-clarife-secret" });
    expect(given.secret).toBe("my-clarife-secret");
    const p = expectProblem(await post(key, { url: URL_OK, event_types: ["*"], format: "clarife", secret: "short" }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["secret"]);
  });

  it("clara: no secret means secret null; a given one is kept", async () => {
    const { key } = await createAccount("business");
    const none = await createSubscription(key, { format: "clara" });
    expect(none.secret).toBeNull();
    const secret = await call("GET", `/v1/subscriptions/${none.id}/secret`, { token: key });
    expect(secret.status).toBe(200);
    expect(secret.json).toEqual({ secret: null });
    const given = await createSubscription(key, { format: "clara", secret: "clara-secret" });
    expect(given.secret).toBe("clara-secret");
    expect((await call("GET", `/v1/subscriptions/${given.id}/secret`, { token: key })).json).toEqual({
      secret: "clara-secret",
    });
  });

  it("smartshape: a secret is required (422 without), kept when given", async () => {
    const { key } = await createAccount("business");
    const p = expectProblem(await post(key, { url: URL_OK, event_types: ["*"], format: "smartshape" }), 422);
    expect(p.errors).toEqual([{ path: "secret", message: expect.stringContaining("smartshape") }]);
    expect(await count(key)).toBe(0);
    const sub = await createSubscription(key, { format: "smartshape", secret: "SECRET_TOKEN_123" });
    expect(sub.secret).toBe("SECRET_TOKEN_123");
    expect((await call("GET", `/v1/subscriptions/${sub.id}/secret`, { token: key })).json.secret).toBe(
      "SECRET_TOKEN_123",
    );
  });

  it("an unknown format is 422", async () => {
    const { key } = await createAccount();
    const p = expectProblem(await post(key, { url: URL_OK, event_types: ["*"], format: "svix" }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["format"]);
  });
});

describe("target urls", () => {
  it.each([
    ["http://127.0.0.1/hook", /loopback/],
    ["https://127.1/hook", /loopback/],
    ["https://[::1]/", /loopback/],
    ["https://[::ffff:7f00:1]/", /loopback/],
    ["https://10.1.2.3/", /private/],
    ["https://192.168.1.1/", /private/],
    ["https://100.64.0.1/", /CGNAT/],
    ["https://169.254.169.254/latest/meta-data", /link-local/],
    ["https://[fd12::1]/", /unique local/],
    ["https://LOCALHOST./", /local/],
    ["https://metadata.google.internal/", /metadata/],
    ["https://user:pass@example.com/", /credentials/],
    ["ftp://example.com/", /scheme ftp:/],
    ["javascript:alert(1)", /scheme javascript:/],
    ["https://example.com/\nhook", /control/],
    ["not a url", /whitespace|absolute/],
  ] as const)("%j is 422 naming the rule", async (url, rule) => {
    const { key } = await createAccount();
    const format = url.startsWith("http://") ? "clara" : "standard";
    const p = expectProblem(await post(key, { url, event_types: ["*"], format }), 422);
    expect(p.errors).toEqual([{ path: "url", message: expect.stringMatching(rule) }]);
    expect(p.detail).toMatch(rule);
    expect(await count(key)).toBe(0);
  });

  it("https is required for standard and clarife; clara and smartshape allow http", async () => {
    const { key } = await createAccount("business");
    for (const format of ["standard", "clarife"]) {
      const p = expectProblem(await post(key, { url: "http://example.com/hook", event_types: ["*"], format }), 422);
      expect(p.errors).toEqual([{ path: "url", message: expect.stringMatching(/requires https/) }]);
    }
    const clara = await createSubscription(key, { url: "http://example.com/hook", format: "clara" });
    expect(clara.url).toBe("http://example.com/hook");
    const smartshape = await createSubscription(key, {
      url: "http://example.com/hook",
      format: "smartshape",
      secret: "token-123456",
    });
    expect(smartshape.url).toBe("http://example.com/hook");
  });

  it("PATCH checks the url against the (new) format", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { url: "http://example.com/hook", format: "clara", secret: "clara-secret" });
    let p = expectProblem(await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { format: "standard" } }), 422);
    expect(p.errors?.map((e) => e.path)).toContain("url");
    p = expectProblem(
      await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { url: "http://10.0.0.1/" } }),
      422,
    );
    expect(p.errors).toEqual([{ path: "url", message: expect.stringMatching(/private/) }]);
    const read = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(read.json).toMatchObject({ url: "http://example.com/hook", format: "clara" });
  });
});

describe("custom headers", () => {
  it("accepts ordinary headers", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { headers: { "X-Api-Key": "abc", "X-Tab": "a\tb", "X-Latin": "caf\u00e9" } });
    expect(sub.headers).toEqual({ "X-Api-Key": "abc", "X-Tab": "a\tb", "X-Latin": "caf\u00e9" });
  });

  it.each([
    ["webhook-signature", "v1,forged"],
    ["Webhook-Id", "x"],
    ["webhook-timestamp", "1"],
    ["X-Clara-Signature", "sha256=forged"],
    ["x-clara-delivery", "x"],
    ["X-Clarife-Signature", "t=1,v1=x"],
    ["x-smartshape-token", "x"],
    ["Content-Type", "text/plain"],
    ["content-length", "1"],
    ["Host", "evil.example"],
    ["Transfer-Encoding", "chunked"],
  ])("refuses %s: set by Hookline itself", async (name, value) => {
    const { key } = await createAccount();
    const p = expectProblem(await post(key, { url: URL_OK, event_types: ["*"], headers: { [name]: value } }), 422);
    expect(p.errors).toEqual([{ path: `headers.${name}`, message: expect.stringMatching(/cannot be overridden/) }]);
    expect(await count(key)).toBe(0);
  });

  it.each([
    ["X-A", "a\r\nInjected: yes"],
    ["X-B", "a\nb"],
    ["X-C", "nul\u0000"],
    ["X-D", "del\u007f"],
  ])("refuses the value of %s with control characters", async (name, value) => {
    const { key } = await createAccount();
    const p = expectProblem(await post(key, { url: URL_OK, event_types: ["*"], headers: { [name]: value } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual([`headers.${name}`]);
    expect(await count(key)).toBe(0);
  });

  it.each(["Bad Name", "X-A:", "X-\u00e9", "", "X-A\r\n"])("refuses the header name %j", async (name) => {
    const { key } = await createAccount();
    const p = expectProblem(await post(key, { url: URL_OK, event_types: ["*"], headers: { [name]: "v" } }), 422);
    expect(p.errors?.[0].path).toBe(`headers.${name}`);
  });

  it("refuses the same checks on PATCH, changing nothing", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { headers: { "X-Keep": "1" } });
    const p = expectProblem(
      await call("PATCH", `/v1/subscriptions/${sub.id}`, {
        token: key,
        body: { headers: { "webhook-signature": "x" }, description: "changed" },
      }),
      422,
    );
    expect(p.errors?.map((e) => e.path)).toEqual(["headers.webhook-signature"]);
    const read = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(read.json).toMatchObject({ headers: { "X-Keep": "1" }, description: "" });
  });
});

describe("read, update, delete", () => {
  it("PATCH changes what it names, keeps the rest and moves updated_at", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, {
      subjects: ["a"],
      description: "first",
      metadata: { k: "v" },
      headers: { "X-A": "1" },
    });
    await new Promise((r) => setTimeout(r, 5));
    const res = await call("PATCH", `/v1/subscriptions/${sub.id}`, {
      token: key,
      body: { url: "https://other.example.com/h", event_types: ["project.*"], description: "second", subjects: null },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      id: sub.id,
      url: "https://other.example.com/h",
      event_types: ["project.*"],
      subjects: null,
      description: "second",
      metadata: { k: "v" },
      headers: { "X-A": "1" },
      format: "standard",
      active: true,
      created_at: sub.created_at,
    });
    expect(res.json.secret).toBeUndefined();
    expect(Date.parse(res.json.updated_at)).toBeGreaterThan(Date.parse(sub.updated_at));
    const read = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(read.json).toEqual(res.json);
    // The secret did not change.
    expect((await call("GET", `/v1/subscriptions/${sub.id}/secret`, { token: key })).json.secret).toBe(sub.secret);
  });

  it("PATCH refuses unknown fields and read-only ones with 422", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    for (const field of ["id", "consecutive_failures", "disabled_reason", "created_at", "nope"]) {
      const p = expectProblem(
        await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { [field]: 0 } }),
        422,
      );
      expect(p.errors).toEqual([{ path: field, message: "unknown field" }]);
    }
  });

  it("PATCH active: true clears a disabled state and the failure counter", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    // What the delivery engine does after DEACTIVATE_AFTER failures.
    await env.DB.prepare(
      "UPDATE subscriptions SET active = 0, disabled_reason = ?, disabled_at = ?, consecutive_failures = 10 WHERE id = ?",
    )
      .bind("10 consecutive failures", Date.UTC(2026, 0, 1), sub.id)
      .run();
    const disabled = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(disabled.json).toMatchObject({
      active: false,
      disabled_reason: "10 consecutive failures",
      disabled_at: "2026-01-01T00:00:00.000Z",
      consecutive_failures: 10,
    });

    // Other changes leave it off.
    const other = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { description: "x" } });
    expect(other.json).toMatchObject({ active: false, disabled_reason: "10 consecutive failures", consecutive_failures: 10 });

    const res = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ active: true, disabled_reason: null, disabled_at: null, consecutive_failures: 0 });
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json).toMatchObject({
      active: true,
      disabled_reason: null,
      disabled_at: null,
      consecutive_failures: 0,
    });

    const off = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: false } });
    expect(off.json).toMatchObject({ active: false, disabled_reason: null, disabled_at: null });
  });

  it("DELETE answers 204; then the subscription is gone and frees its plan slot", async () => {
    const { key } = await createAccount();
    const subs = [await createSubscription(key), await createSubscription(key), await createSubscription(key)];
    expectProblem(await post(key, { url: URL_OK, event_types: ["*"] }), 403);
    const del = await call("DELETE", `/v1/subscriptions/${subs[1].id}`, { token: key });
    expect(del.status, del.text).toBe(204);
    expect(del.text).toBe("");
    expectProblem(await call("GET", `/v1/subscriptions/${subs[1].id}`, { token: key }), 404);
    expectProblem(await call("GET", `/v1/subscriptions/${subs[1].id}/secret`, { token: key }), 404);
    expectProblem(await call("DELETE", `/v1/subscriptions/${subs[1].id}`, { token: key }), 404);
    const { items } = await listAll("/v1/subscriptions", key, 100);
    expect(items.map((s) => s.id).sort()).toEqual([subs[0].id, subs[2].id].sort());
    expect((await post(key, { url: URL_OK, event_types: ["*"] })).status).toBe(201);
  });

  it("missing and malformed ids are 404", async () => {
    const { key } = await createAccount();
    for (const id of [MISSING_SUBSCRIPTION_ID, "sub_nope", "nope", "SUB_00000000-0000-4000-8000-000000000000"]) {
      expectProblem(await call("GET", `/v1/subscriptions/${id}`, { token: key }), 404);
      expectProblem(await call("PATCH", `/v1/subscriptions/${id}`, { token: key, body: { description: "x" } }), 404);
      expectProblem(await call("DELETE", `/v1/subscriptions/${id}`, { token: key }), 404);
      expectProblem(await call("GET", `/v1/subscriptions/${id}/secret`, { token: key }), 404);
      expectProblem(await call("POST", `/v1/subscriptions/${id}/rotate-secret`, { token: key }), 404);
    }
  });
});

describe("changing format", () => {
  const patch = (key: string, id: string, body: Record<string, unknown>) =>
    call("PATCH", `/v1/subscriptions/${id}`, { token: key, body });
  const secretOf = async (key: string, id: string) =>
    (await call("GET", `/v1/subscriptions/${id}/secret`, { token: key })).json.secret;

  it("keeps a secret that fits the new format", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { secret: STANDARD_SECRET });
    const res = await patch(key, sub.id, { format: "clarife" });
    expect(res.status, res.text).toBe(200);
    expect(res.json.format).toBe("clarife");
    expect(await secretOf(key, sub.id)).toBe(STANDARD_SECRET);
    const back = await patch(key, sub.id, { format: "smartshape" });
    expect(back.status, back.text).toBe(200);
    expect(await secretOf(key, sub.id)).toBe(STANDARD_SECRET);
  });

  it("asks for a new secret when the current one does not fit, and takes one given with the change", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { format: "smartshape", secret: "SECRET_TOKEN_123" });
    const p = expectProblem(await patch(key, sub.id, { format: "standard" }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["secret"]);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.format).toBe("smartshape");
    const res = await patch(key, sub.id, { format: "standard", secret: STANDARD_SECRET });
    expect(res.status, res.text).toBe(200);
    expect(await secretOf(key, sub.id)).toBe(STANDARD_SECRET);
  });

  it("a clara hook without a secret gets one when it moves to a format that signs with a generated secret", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { format: "clara" });
    expect(sub.secret).toBeNull();
    const res = await patch(key, sub.id, { format: "standard" });
    expect(res.status, res.text).toBe(200);
    const secret = await secretOf(key, sub.id);
    expect(secret).toMatch(/^whsec_/);

    const other = await createSubscription(key, { format: "clara" });
    expect((await patch(key, other.id, { format: "clarife" })).status).toBe(200);
    expect(await secretOf(key, other.id)).toEqual(expect.any(String));

    // smartshape needs the caller's token.
    const third = await createSubscription(key, { format: "clara", url: "http://example.com/h" });
    const p = expectProblem(await patch(key, third.id, { format: "smartshape" }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["secret"]);
  });
});

describe("rotate-secret", () => {
  it("standard: a new whsec_ secret, the previous one still signs for about 24 h", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const before = Date.now();
    const res = await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ secret: expect.stringMatching(/^whsec_/), previous_secret_expires_at: expect.any(String) });
    expect(res.json.secret).not.toBe(sub.secret);
    const expires = Date.parse(res.json.previous_secret_expires_at);
    expect(expires - before).toBeGreaterThanOrEqual(24 * 3600_000 - 1000);
    expect(expires - Date.now()).toBeLessThanOrEqual(24 * 3600_000 + 1000);
    expect((await call("GET", `/v1/subscriptions/${sub.id}/secret`, { token: key })).json.secret).toBe(res.json.secret);
    // The subscription itself never shows a secret.
    const read = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(read.text).not.toContain(res.json.secret);
    expect(read.text).not.toContain(sub.secret);
  });

  it("standard: a given secret is used, and one of the wrong form is 422 and changes nothing", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const p = expectProblem(
      await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key, body: { secret: "plain" } }),
      422,
    );
    expect(p.errors?.map((e) => e.path)).toEqual(["secret"]);
    expect((await call("GET", `/v1/subscriptions/${sub.id}/secret`, { token: key })).json.secret).toBe(sub.secret);
    const res = await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, {
      token: key,
      body: { secret: STANDARD_SECRET },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json.secret).toBe(STANDARD_SECRET);
    expect((await call("GET", `/v1/subscriptions/${sub.id}/secret`, { token: key })).json.secret).toBe(STANDARD_SECRET);
  });

  it("clarife: replaced at once, so no previous secret expiry", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key, { format: "clarife" });
    const res = await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key });
    expect(res.status, res.text).toBe(200);
    expect(res.json.previous_secret_expires_at).toBeNull();
    expect(res.json.secret).toEqual(expect.any(String));
    expect(res.json.secret).not.toBe(sub.secret);
    expect((await call("GET", `/v1/subscriptions/${sub.id}/secret`, { token: key })).json.secret).toBe(res.json.secret);
  });

  it("smartshape and clara: replaced at once; a given secret is used", async () => {
    const { key } = await createAccount();
    const ss = await createSubscription(key, { format: "smartshape", secret: "token-one-1" });
    const r1 = await call("POST", `/v1/subscriptions/${ss.id}/rotate-secret`, {
      token: key,
      body: { secret: "token-two-2" },
    });
    expect(r1.json).toEqual({ secret: "token-two-2", previous_secret_expires_at: null });
    const clara = await createSubscription(key, { format: "clara", url: "http://example.com/h" });
    const r2 = await call("POST", `/v1/subscriptions/${clara.id}/rotate-secret`, { token: key });
    expect(r2.status, r2.text).toBe(200);
    expect(r2.json.previous_secret_expires_at).toBeNull();
    expect(r2.json.secret).toEqual(expect.any(String));
    expect((await call("GET", `/v1/subscriptions/${clara.id}/secret`, { token: key })).json.secret).toBe(r2.json.secret);
  });

  it("refuses unknown fields", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    const p = expectProblem(
      await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key, body: { grace: 0 } }),
      422,
    );
    expect(p.errors).toEqual([{ path: "grace", message: "unknown field" }]);
  });
});

describe("plan caps", () => {
  it("pro allows 3, counting inactive ones; the 403 names plan and limit", async () => {
    const { key } = await createAccount("pro");
    await createSubscription(key);
    await createSubscription(key, { active: false });
    await createSubscription(key, { active: false, format: "clara", url: "http://example.com/h" });
    const res = await post(key, { url: URL_OK, event_types: ["*"] });
    const p = expectProblem(res, 403);
    expect(p.detail).toContain("pro");
    expect(p.detail).toContain("3");
    expect(res.json).toMatchObject({ plan: "pro", limit: 3 });
    expect(await count(key)).toBe(3);
  });

  it("business allows 20", async () => {
    const { key } = await createAccount("business");
    for (let i = 0; i < 20; i++) await createSubscription(key, { description: `n${i}` });
    const res = await post(key, { url: URL_OK, event_types: ["*"] });
    const p = expectProblem(res, 403);
    expect(p.detail).toContain("business");
    expect(p.detail).toContain("20");
    expect(res.json).toMatchObject({ plan: "business", limit: 20 });
    expect(await count(key)).toBe(20);
  });

  it("an upgrade raises the cap at once", async () => {
    const { id, key } = await createAccount("pro");
    for (let i = 0; i < 3; i++) await createSubscription(key);
    expectProblem(await post(key, { url: URL_OK, event_types: ["*"] }), 403);
    expect((await call("PATCH", `/v1/accounts/${id}`, { body: { plan: "business" } })).status).toBe(200);
    expect((await post(key, { url: URL_OK, event_types: ["*"] })).status).toBe(201);
  });

  it("concurrent creates do not pass the cap", async () => {
    const { key } = await createAccount("pro");
    const results = await Promise.all(Array.from({ length: 6 }, () => post(key, { url: URL_OK, event_types: ["*"] })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(3);
    expect(results.filter((r) => r.status === 403)).toHaveLength(3);
    expect(await count(key)).toBe(3);
  });
});

describe("pagination", () => {
  it("walks 5 subscriptions 2 at a time, newest first, without gaps or repeats", async () => {
    const { key } = await createAccount("business");
    const created = [];
    for (let i = 0; i < 5; i++) {
      created.push(await createSubscription(key, { description: `s${i}` }));
      await new Promise((r) => setTimeout(r, 2));
    }
    const { items, pages } = await listAll("/v1/subscriptions", key, 2);
    expect(pages).toEqual([2, 2, 1]);
    expect(items.map((s) => s.id)).toEqual(created.map((s) => s.id).reverse());
    expect(items.every((s) => s.secret === undefined)).toBe(true);

    const first = await call("GET", "/v1/subscriptions?limit=2", { token: key });
    expect(first.json.next_cursor).toEqual(expect.any(String));
    const all = await call("GET", "/v1/subscriptions?limit=5", { token: key });
    expect(all.json.next_cursor).toBeNull();
    expect(all.json.data).toHaveLength(5);
    const dflt = await call("GET", "/v1/subscriptions", { token: key });
    expect(dflt.json.data).toHaveLength(5);
  });

  it("refuses a cursor it did not give and limits outside 1-100", async () => {
    const { key } = await createAccount();
    let p = expectProblem(await call("GET", "/v1/subscriptions?cursor=garbage", { token: key }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["cursor"]);
    p = expectProblem(await call("GET", "/v1/subscriptions?limit=0", { token: key }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["query.limit"]);
    p = expectProblem(await call("GET", "/v1/subscriptions?limit=101", { token: key }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["query.limit"]);
  });
});

describe("another account's subscription", () => {
  it("answers 404 on every route, exactly like a missing one, and changes nothing", async () => {
    const owner = await createAccount();
    const other = await createAccount();
    const sub = await createSubscription(owner.key, { description: "mine" });
    const routes: Array<[string, string, unknown]> = [
      ["GET", "", undefined],
      ["PATCH", "", { description: "hijacked", active: false }],
      ["DELETE", "", undefined],
      ["GET", "/secret", undefined],
      ["POST", "/rotate-secret", undefined],
      ["POST", "/rotate-secret", { secret: STANDARD_SECRET }],
    ];
    for (const [method, suffix, body] of routes) {
      const res = await call(method, `/v1/subscriptions/${sub.id}${suffix}`, { token: other.key, body });
      expectProblem(res, 404);
      const missing = await call(method, `/v1/subscriptions/${MISSING_SUBSCRIPTION_ID}${suffix}`, {
        token: other.key,
        body,
      });
      expect(res.json, `${method} ${suffix}`).toEqual(missing.json);
      expect(res.text).not.toContain(sub.secret);
    }
    expect((await call("GET", "/v1/subscriptions", { token: other.key })).json.data).toEqual([]);
    const read = await call("GET", `/v1/subscriptions/${sub.id}`, { token: owner.key });
    const { secret: _s, ...shape } = sub;
    expect(read.json).toEqual(shape);
    expect((await call("GET", `/v1/subscriptions/${sub.id}/secret`, { token: owner.key })).json.secret).toBe(sub.secret);
  });
});
