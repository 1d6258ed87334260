/** Accounts, API keys and who may call what. */
import { describe, expect, it } from "vitest";
import { ADMIN, call, createAccount, expectProblem, MISSING_ACCOUNT_ID } from "./harness";

const expect401 = (res: Awaited<ReturnType<typeof call>>) => {
  const p = expectProblem(res, 401);
  // Bearer only: a Basic challenge would make browsers prompt for, and cache, credentials.
  expect(res.headers.get("www-authenticate")).toBe('Bearer realm="hookline"');
  return p;
};

describe("POST /v1/accounts", () => {
  it("creates an account with its first API key, shown once", async () => {
    const res = await call("POST", "/v1/accounts", { body: { name: "acme", email: "ops@acme.test", plan: "business" } });
    expect(res.status, res.text).toBe(201);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(res.json).toEqual({
      id: expect.stringMatching(/^acct_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
      name: "acme",
      email: "ops@acme.test",
      plan: "business",
      max_subscriptions: 20,
      // One shard (the default): every account is on shard 0.
      shard: 0,
      moving_to: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
      api_key: {
        id: expect.stringMatching(/^key_/),
        prefix: expect.any(String),
        created_at: expect.any(String),
        key: expect.any(String),
      },
    });
    const { api_key: apiKey } = res.json;
    expect(apiKey.key.length).toBeGreaterThanOrEqual(40);
    expect(apiKey.key.startsWith(apiKey.prefix)).toBe(true);
    expect(new Date(res.json.created_at).toISOString()).toBe(res.json.created_at);

    // Never shown again: not on the account, not in the key list.
    const read = await call("GET", `/v1/accounts/${res.json.id}`);
    expect(read.status).toBe(200);
    expect(read.json.api_key).toBeUndefined();
    expect(read.text).not.toContain(apiKey.key);
    const keys = await call("GET", `/v1/accounts/${res.json.id}/keys`);
    expect(keys.status).toBe(200);
    expect(keys.json.data).toEqual([{ id: apiKey.id, prefix: apiKey.prefix, created_at: apiKey.created_at }]);
    expect(keys.text).not.toContain(apiKey.key);
  });

  it("defaults to the pro plan and no email", async () => {
    const res = await call("POST", "/v1/accounts", { body: { name: "defaults-1" } });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ name: "defaults-1", plan: "pro", max_subscriptions: 3, email: null });
  });

  it("refuses a name that is taken with 409, and stores nothing", async () => {
    const first = await call("POST", "/v1/accounts", { body: { name: "taken" } });
    expect(first.status).toBe(201);
    const p = expectProblem(await call("POST", "/v1/accounts", { body: { name: "taken", plan: "business" } }), 409);
    expect(p.detail).toContain("taken");
    expect(p.errors).toEqual([{ path: "name", message: expect.any(String) }]);
    // The first account is untouched and still the only one with its key.
    const read = await call("GET", `/v1/accounts/${first.json.id}`);
    expect(read.json.plan).toBe("pro");
    const me = await call("GET", "/v1/account", { token: first.json.api_key.key });
    expect(me.json.id).toBe(first.json.id);
  });

  it("concurrent creates of one name give one account and 409s", async () => {
    const results = await Promise.all(
      Array.from({ length: 4 }, (_, i) => call("POST", "/v1/accounts", { body: { name: "racy", email: `r${i}@x.test` } })),
    );
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409]);
    for (const r of results.filter((r) => r.status === 409)) expectProblem(r, 409);
    const winner = results.find((r) => r.status === 201)!;
    expect((await call("GET", `/v1/accounts/${winner.json.id}/keys`)).json.data).toHaveLength(1);
  });

  it.each([
    ["Upper", "name"],
    ["-leading-dash", "name"],
    ["_leading", "name"],
    ["has space", "name"],
    ["dots.not.allowed", "name"],
    ["a".repeat(65), "name"],
    ["", "name"],
  ])("refuses the name %j with 422 naming the field", async (name, path) => {
    const p = expectProblem(await call("POST", "/v1/accounts", { body: { name } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual([path]);
  });

  it("accepts names at the edge of the pattern", async () => {
    for (const name of ["0", "a".repeat(64), "a_b-c9"]) {
      const res = await call("POST", "/v1/accounts", { body: { name } });
      expect(res.status, `${name}: ${res.text}`).toBe(201);
    }
  });

  it("refuses an unknown plan, a bad email, a missing name and unknown fields with 422", async () => {
    let p = expectProblem(await call("POST", "/v1/accounts", { body: { name: "plan-x", plan: "enterprise" } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["plan"]);
    p = expectProblem(await call("POST", "/v1/accounts", { body: { name: "mail-x", email: "not-an-email" } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["email"]);
    p = expectProblem(await call("POST", "/v1/accounts", { body: { email: "a@b.test" } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["name"]);
    p = expectProblem(await call("POST", "/v1/accounts", { body: { name: "field-x", color: "red" } }), 422);
    expect(p.errors).toEqual([{ path: "color", message: "unknown field" }]);
    expect(p.detail).toContain("color");
    // None of them was created.
    for (const name of ["plan-x", "mail-x", "field-x"]) {
      const again = await call("POST", "/v1/accounts", { body: { name } });
      expect(again.status, again.text).toBe(201);
    }
  });

  it("is for the operator only: an account gets 403", async () => {
    const { key } = await createAccount();
    const p = expectProblem(await call("POST", "/v1/accounts", { token: key, body: { name: "sneaky" } }), 403);
    expect(p.detail).toMatch(/operator/);
    // Nothing was created: the name is still free.
    expect((await call("POST", "/v1/accounts", { body: { name: "sneaky" } })).status).toBe(201);
  });
});

describe("credentials", () => {
  it("an API key works as Bearer and as Basic <account name>:<key>", async () => {
    const { id, name, key } = await createAccount();
    const bearer = await call("GET", "/v1/account", { token: key });
    expect(bearer.status, bearer.text).toBe(200);
    expect(bearer.json).toMatchObject({ id, name, plan: "pro", max_subscriptions: 3 });
    expect(bearer.json.api_key).toBeUndefined();
    const basic = await call("GET", "/v1/account", { basic: [name, key] });
    expect(basic.status, basic.text).toBe(200);
    expect(basic.json.id).toBe(id);
    const lowerScheme = await call("GET", "/v1/account", { token: null, headers: { authorization: `bearer ${key}` } });
    expect(lowerScheme.status).toBe(200);
  });

  it("Basic with another account's name is 401", async () => {
    const a = await createAccount();
    const b = await createAccount();
    expect401(await call("GET", "/v1/account", { basic: [b.name, a.key] }));
    expect401(await call("GET", "/v1/account", { basic: ["nobody", a.key] }));
    expect401(await call("GET", "/v1/account", { basic: ["", a.key] }));
  });

  it("the operator token is not a Basic password", async () => {
    const a = await createAccount();
    expect401(await call("GET", "/v1/accounts/" + a.id, { basic: ["operator", ADMIN] }));
    expect401(await call("GET", "/v1/accounts/" + a.id, { basic: [a.name, ADMIN] }));
  });

  it.each([
    ["no header", {}],
    ["a wrong key", { authorization: "Bearer hl_not-a-real-key" }],
    ["a wrong admin token", { authorization: "Bearer test-admin-token-2" }],
    ["an empty Bearer", { authorization: "Bearer " }],
    ["a bare Bearer", { authorization: "Bearer" }],
    ["an unknown scheme", { authorization: "Token abc" }],
    ["Basic that is not base64", { authorization: "Basic %%%" }],
    ["Basic without a colon", { authorization: "Basic " + btoa("justaname") }],
    ["Basic with an empty key", { authorization: "Basic " + btoa("acme:") }],
    ["garbage", { authorization: "!!!" }],
  ])("%s is 401 with a problem body and WWW-Authenticate", async (_name, headers) => {
    for (const path of ["/v1/account", "/v1/subscriptions", "/v1/event-types", "/v1/accounts"]) {
      const res = await call(path === "/v1/accounts" ? "POST" : "GET", path, {
        token: null,
        headers,
        ...(path === "/v1/accounts" ? { body: { name: "never-made" } } : {}),
      });
      const p = expect401(res);
      expect(p.title).toBe("Unauthorized");
    }
  });

  it("does not echo the key it refused", async () => {
    const res = await call("GET", "/v1/account", { token: "hl_secret-looking-value-123" });
    expect401(res);
    expect(res.text).not.toContain("hl_secret-looking-value-123");
  });

  it("does not echo a key sent without its scheme, not even its start", async () => {
    const { key } = await createAccount();
    for (const header of [key, `${key} trailing`, `Token ${key}`, "hl_Secret-Looking-Value-123"]) {
      const res = await call("GET", "/v1/account", { token: null, headers: { authorization: header } });
      const p = expect401(res);
      expect(p.detail).toMatch(/Bearer/);
      for (const secret of [key, "hl_Secret-Looking-Value-123"]) {
        expect(res.text.toLowerCase(), header).not.toContain(secret.slice(0, 6).toLowerCase());
      }
    }
  });

  it("a wrong token on an operator route is neither the operator token nor an API key, whichever it resembles", async () => {
    const { key } = await createAccount();
    const details = [];
    for (const wrong of [`${ADMIN}-2`, key.slice(0, -2) + "xx", "something-else"]) {
      for (const [method, path, body] of [
        ["POST", "/v1/accounts", { name: "never-made" }],
        ["POST", "/v1/event-types", { name: "never.made" }],
        ["GET", "/v1/events", undefined],
      ] as const) {
        const p = expect401(await call(method, path, { token: wrong, body }));
        expect(p.detail).toBe("the Bearer token is neither the operator token nor a valid API key");
        details.push(p.detail);
      }
    }
    expect(new Set(details).size).toBe(1);
  });

  it("the operator on an account route is 403, an account on an operator route is 403", async () => {
    const { id, key } = await createAccount();
    expectProblem(await call("GET", "/v1/account"), 403);
    expectProblem(await call("GET", "/v1/subscriptions"), 403);
    expectProblem(await call("PATCH", `/v1/accounts/${id}`, { token: key, body: { plan: "business" } }), 403);
    expectProblem(
      await call("POST", "/v1/event-types", { token: key, body: { name: "sneaky.created", description: "x" } }),
      403,
    );
    // The account's plan did not change.
    expect((await call("GET", "/v1/account", { token: key })).json.plan).toBe("pro");
  });
});

describe("GET and PATCH /v1/accounts/{id}", () => {
  it("the operator reads any account, an account reads itself", async () => {
    const { id, key, account } = await createAccount();
    const { api_key: _k, ...shape } = account;
    const byOperator = await call("GET", `/v1/accounts/${id}`);
    expect(byOperator.status).toBe(200);
    expect(byOperator.json).toEqual(shape);
    const bySelf = await call("GET", `/v1/accounts/${id}`, { token: key });
    expect(bySelf.status).toBe(200);
    expect(bySelf.json).toEqual(shape);
  });

  it("another account's id answers 404 exactly like a missing one", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const missing = await call("GET", `/v1/accounts/${MISSING_ACCOUNT_ID}`, { token: a.key });
    const other = await call("GET", `/v1/accounts/${b.id}`, { token: a.key });
    expectProblem(missing, 404);
    expectProblem(other, 404);
    expect(other.json).toEqual(missing.json);
    expect(other.text).not.toContain(b.name);
    for (const [method, path, body] of [
      ["GET", `/v1/accounts/${b.id}/keys`, undefined],
      ["POST", `/v1/accounts/${b.id}/keys`, undefined],
      ["DELETE", `/v1/accounts/${b.id}/keys/${b.account.api_key.id}`, undefined],
    ] as const) {
      const res = await call(method, path, { token: a.key, body });
      expectProblem(res, 404);
      const twin = await call(method, path.replace(b.id, MISSING_ACCOUNT_ID), { token: a.key, body });
      expect(res.json, `${method} ${path}`).toEqual(twin.json);
    }
    // b's key still works and b still has one key.
    expect((await call("GET", "/v1/account", { token: b.key })).status).toBe(200);
    expect((await call("GET", `/v1/accounts/${b.id}/keys`)).json.data).toHaveLength(1);
  });

  it("the operator gets 404 for missing and malformed ids", async () => {
    expectProblem(await call("GET", `/v1/accounts/${MISSING_ACCOUNT_ID}`), 404);
    expectProblem(await call("GET", "/v1/accounts/not-an-id"), 404);
    expectProblem(await call("PATCH", `/v1/accounts/${MISSING_ACCOUNT_ID}`, { body: { plan: "business" } }), 404);
    expectProblem(await call("POST", `/v1/accounts/${MISSING_ACCOUNT_ID}/keys`), 404);
  });

  it("the operator changes plan and email; the change is read back", async () => {
    const { id, key, account } = await createAccount();
    const res = await call("PATCH", `/v1/accounts/${id}`, { body: { plan: "business", email: "new@example.com" } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ id, plan: "business", max_subscriptions: 20, email: "new@example.com" });
    expect(res.json.created_at).toBe(account.created_at);
    expect(Date.parse(res.json.updated_at)).toBeGreaterThanOrEqual(Date.parse(account.updated_at));
    const read = await call("GET", "/v1/account", { token: key });
    expect(read.json).toEqual(res.json);

    const cleared = await call("PATCH", `/v1/accounts/${id}`, { body: { email: null } });
    expect(cleared.status).toBe(200);
    expect(cleared.json).toMatchObject({ email: null, plan: "business" });
    expect((await call("GET", `/v1/accounts/${id}`)).json.email).toBeNull();
  });

  it("PATCH refuses an unknown plan, a name change and unknown fields with 422, changing nothing", async () => {
    const { id } = await createAccount();
    let p = expectProblem(await call("PATCH", `/v1/accounts/${id}`, { body: { plan: "free" } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["plan"]);
    p = expectProblem(await call("PATCH", `/v1/accounts/${id}`, { body: { name: "renamed" } }), 422);
    expect(p.errors).toEqual([{ path: "name", message: "unknown field" }]);
    p = expectProblem(await call("PATCH", `/v1/accounts/${id}`, { body: { plan: "business", email: 5 } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["email"]);
    expect((await call("GET", `/v1/accounts/${id}`)).json.plan).toBe("pro");
  });
});

describe("API keys", () => {
  it("create, list and delete; a deleted key stops working at once", async () => {
    const { id, name, key, account } = await createAccount();
    const second = await call("POST", `/v1/accounts/${id}/keys`);
    expect(second.status, second.text).toBe(201);
    expect(second.json).toEqual({
      id: expect.stringMatching(/^key_/),
      prefix: expect.any(String),
      created_at: expect.any(String),
      key: expect.any(String),
    });
    expect(second.json.key).not.toBe(key);
    const third = await call("POST", `/v1/accounts/${id}/keys`, { token: key }); // the account itself
    expect(third.status, third.text).toBe(201);

    const list = await call("GET", `/v1/accounts/${id}/keys`, { token: second.json.key });
    expect(list.status).toBe(200);
    expect(list.json.data.map((k: any) => k.id).sort()).toEqual(
      [account.api_key.id, second.json.id, third.json.id].sort(),
    );
    for (const k of list.json.data) expect(Object.keys(k).sort()).toEqual(["created_at", "id", "prefix"]);

    for (const k of [key, second.json.key, third.json.key]) {
      expect((await call("GET", "/v1/account", { token: k })).status).toBe(200);
    }

    const del = await call("DELETE", `/v1/accounts/${id}/keys/${account.api_key.id}`);
    expect(del.status, del.text).toBe(204);
    expect(del.text).toBe("");
    expect401(await call("GET", "/v1/account", { token: key }));
    expect401(await call("GET", "/v1/account", { basic: [name, key] }));
    expect((await call("GET", "/v1/account", { token: second.json.key })).status).toBe(200);

    // An account may revoke its own keys, even the one it calls with.
    const selfDel = await call("DELETE", `/v1/accounts/${id}/keys/${third.json.id}`, { token: third.json.key });
    expect(selfDel.status, selfDel.text).toBe(204);
    expect401(await call("GET", "/v1/account", { token: third.json.key }));

    const after = await call("GET", `/v1/accounts/${id}/keys`);
    expect(after.json.data.map((k: any) => k.id)).toEqual([second.json.id]);

    // Deleting it again, or a key that never was, is 404.
    expectProblem(await call("DELETE", `/v1/accounts/${id}/keys/${account.api_key.id}`), 404);
    expectProblem(await call("DELETE", `/v1/accounts/${id}/keys/key_00000000-0000-4000-8000-000000000000`), 404);
  });

  it("a key of another account cannot be deleted through one's own account id", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const res = await call("DELETE", `/v1/accounts/${a.id}/keys/${b.account.api_key.id}`, { token: a.key });
    expectProblem(res, 404);
    const viaOperator = await call("DELETE", `/v1/accounts/${a.id}/keys/${b.account.api_key.id}`);
    expectProblem(viaOperator, 404);
    expect((await call("GET", "/v1/account", { token: b.key })).status).toBe(200);
  });
});
