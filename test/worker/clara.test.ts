/**
 * The Clara.io face (README "Clara.io users"):
 * the seed's own curl bodies, every content type the seed names, Basic `<name>:<key>`,
 * the hook shape, partial PUT, the bare-array listing, and deliveries a Clara receiver
 * verifies as the seed says: 'sha256=' + hex HMAC-SHA256(secret, body) in X-Clara-Signature.
 * These tests run with ALLOW_INSECURE_TARGETS=false (vitest.config.ts), so the seed's
 * plain-http public url is accepted here by the format's own rule, not by the escape hatch.
 */
import { describe, expect, it } from "vitest";
import { call, createAccount, createSubscription, expectProblem, MISSING_SUBSCRIPTION_ID } from "./harness";
import { deliveryWithAttempts, emit, received, receiverUrl, settledDeliveries } from "./delivery-harness";

type Who = { name: string; key: string };
const FORM = "application/x-www-form-urlencoded";

/** The first example's body exactly as `curl -d ... -d ...` joins it (curl does not encode the brackets). */
const SEED_FORM_BODY =
  "url=http://foo.example.com/hook&statuses[]=ok&statuses[]=failed&jobTypes[]=export&jobTypes[]=import&active=true";
/** The second example's body, byte for byte. */
const SEED_JSON_BODY = `{
  "url": "https://foo.example.com/hook",
  "statuses": ["ok", "failed"],
  "jobTypes": ["export", "import"],
  "active": true
}`;

function clara(method: string, path: string, who: Who, opts: { rawBody?: string; contentType?: string; body?: unknown } = {}) {
  return call(method, path, {
    basic: [who.name, who.key],
    rawBody: opts.rawBody,
    body: opts.body,
    headers: opts.contentType ? { "content-type": opts.contentType } : {},
  });
}

const createHook = async (who: Who, body: Record<string, unknown>) => {
  const res = await clara("POST", "/api/webhooks", who, { body });
  expect(res.status, res.text).toBe(200);
  return res.json as { _id: string; url: string; jobTypes: string[]; statuses: string[]; scenes: string[]; active: boolean };
};

/** A FormData body encoded as multipart/form-data, as `curl -F` would send it. */
async function multipart(fields: [string, string][]) {
  const form = new FormData();
  for (const [k, v] of fields) form.append(k, v);
  const res = new Response(form);
  return { contentType: res.headers.get("content-type")!, rawBody: new TextDecoder().decode(await res.arrayBuffer()) };
}

async function hexHmacSha256(secret: string, body: string) {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const sorted = (xs: string[]) => [...xs].sort();
const HOOK_KEYS = ["_id", "active", "jobTypes", "scenes", "statuses", "url"];

/** What /v1 sees of a hook. */
const v1 = (who: Who, id: string) => call("GET", `/v1/subscriptions/${id}`, { token: who.key });
const v1Secret = async (who: Who, id: string) => {
  const res = await call("GET", `/v1/subscriptions/${id}/secret`, { token: who.key });
  expect(res.status, res.text).toBe(200);
  return res.json.secret as string | null;
};

describe.concurrent("Clara.io: creating hooks as the seed's curl examples do", () => {
  it("the form-urlencoded example (statuses[]=..., jobTypes[]=..., active=true, plain http url) creates the hook", async () => {
    const who = await createAccount();
    const res = await clara("POST", "/api/webhooks", who, { rawBody: SEED_FORM_BODY, contentType: FORM });
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get("content-type")).toContain("application/json");
    expect(Object.keys(res.json).sort()).toEqual(HOOK_KEYS);
    expect(res.json._id).toMatch(/^sub_[0-9a-f-]{36}$/);
    expect(res.json.url).toBe("http://foo.example.com/hook");
    expect(sorted(res.json.jobTypes)).toEqual(["export", "import"]);
    expect(sorted(res.json.statuses)).toEqual(["failed", "ok"]);
    expect(res.json.scenes).toEqual(["all"]);
    expect(res.json.active).toBe(true);

    // Stored as a clara subscription for every jobType x status pair, all scenes, no secret.
    const stored = await v1(who, res.json._id);
    expect(stored.status).toBe(200);
    expect(stored.json).toMatchObject({ format: "clara", url: "http://foo.example.com/hook", subjects: null, active: true });
    expect(sorted(stored.json.event_types)).toEqual(["export.failed", "export.ok", "import.failed", "import.ok"]);
    expect(await v1Secret(who, res.json._id)).toBeNull();
  });

  it("the JSON example creates the same hook with its https url", async () => {
    const who = await createAccount();
    const res = await clara("POST", "/api/webhooks", who, { rawBody: SEED_JSON_BODY, contentType: "application/json" });
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(HOOK_KEYS);
    expect(res.json).toMatchObject({ url: "https://foo.example.com/hook", scenes: ["all"], active: true });
    expect(sorted(res.json.jobTypes)).toEqual(["export", "import"]);
    expect(sorted(res.json.statuses)).toEqual(["failed", "ok"]);
    const list = await clara("GET", "/api/webhooks", who);
    expect(list.json).toEqual([res.json]);
  });

  it("multipart/form-data (curl -F) with scenes, a secret and active=false", async () => {
    const who = await createAccount();
    const body = await multipart([
      ["url", "https://foo.example.com/multi"],
      ["statuses[]", "ok"],
      ["jobTypes[]", "renderFrame"],
      ["jobTypes[]", "export"],
      ["scenes[]", "scene-1"],
      ["scenes[]", "scene-2"],
      ["secret", "multipart-secret"],
      ["active", "false"],
    ]);
    expect(body.contentType).toMatch(/^multipart\/form-data; ?boundary=/);
    const res = await clara("POST", "/api/webhooks", who, body);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(HOOK_KEYS);
    expect(res.json).toMatchObject({ url: "https://foo.example.com/multi", statuses: ["ok"], scenes: ["scene-1", "scene-2"], active: false });
    expect(sorted(res.json.jobTypes)).toEqual(["export", "renderFrame"]);
    expect(res.text).not.toContain("multipart-secret");
    expect(await v1Secret(who, res.json._id)).toBe("multipart-secret");
    expect((await v1(who, res.json._id)).json.subjects).toEqual(["scene-1", "scene-2"]);
  });

  it('"application/form-data" with a urlencoded body (the seed names this type), and with a multipart body', async () => {
    const who = await createAccount();
    const res = await clara("POST", "/api/webhooks", who, { rawBody: SEED_FORM_BODY, contentType: "application/form-data" });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ url: "http://foo.example.com/hook", scenes: ["all"], active: true });
    expect(sorted(res.json.jobTypes)).toEqual(["export", "import"]);
    expect(sorted(res.json.statuses)).toEqual(["failed", "ok"]);

    const multi = await multipart([
      ["url", "https://foo.example.com/af"],
      ["statuses[]", "pending"],
      ["jobTypes[]", "command"],
    ]);
    const res2 = await clara("POST", "/api/webhooks", who, {
      rawBody: multi.rawBody,
      contentType: multi.contentType.replace("multipart/form-data", "application/form-data"),
    });
    expect(res2.status, res2.text).toBe(200);
    expect(res2.json).toMatchObject({ url: "https://foo.example.com/af", jobTypes: ["command"], statuses: ["pending"] });
  });

  it("a form value without brackets is a one-element list; active=false is false", async () => {
    const who = await createAccount();
    const res = await clara("POST", "/api/webhooks", who, {
      rawBody: "url=https%3A%2F%2Ffoo.example.com%2Fone&statuses=working&jobTypes=liveRender&scenes=s1&active=false",
      contentType: FORM,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({
      url: "https://foo.example.com/one",
      statuses: ["working"],
      jobTypes: ["liveRender"],
      scenes: ["s1"],
      active: false,
    });
  });

  it("percent-encoded brackets (statuses%5B%5D=ok, as curl --data-urlencode or a browser sends them) read the same", async () => {
    const who = await createAccount();
    const res = await clara("POST", "/api/webhooks", who, {
      rawBody: "url=http%3A%2F%2Ffoo.example.com%2Fhook&statuses%5B%5D=ok&statuses%5B%5D=failed&jobTypes%5B%5D=export&active=true",
      contentType: `${FORM}; charset=UTF-8`,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ url: "http://foo.example.com/hook", jobTypes: ["export"], scenes: ["all"], active: true });
    expect(sorted(res.json.statuses)).toEqual(["failed", "ok"]);
  });

  it("a repeated job type, status or scene counts once (stored once, echoed once)", async () => {
    const who = await createAccount();
    const res = await clara("POST", "/api/webhooks", who, {
      rawBody: "url=http://foo.example.com/hook&statuses[]=ok&statuses[]=ok&jobTypes[]=export&jobTypes[]=export&scenes[]=s1&scenes[]=s1&scenes[]=s2",
      contentType: FORM,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ jobTypes: ["export"], statuses: ["ok"], scenes: ["s1", "s2"] });
    const stored = (await v1(who, res.json._id)).json;
    expect(stored.event_types).toEqual(["export.ok"]);
    expect(stored.subjects).toEqual(["s1", "s2"]);
    const put = await clara("PUT", `/api/webhooks/${res.json._id}`, who, { body: { scenes: ["s3", "s3"], jobTypes: ["import", "import"] } });
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ jobTypes: ["import"], scenes: ["s3"] });
    expect((await v1(who, res.json._id)).json).toMatchObject({ event_types: ["import.ok"], subjects: ["s3"] });
  });

  it("defaults: scenes ['all'] and active true; scenes containing 'all' mean every scene", async () => {
    const who = await createAccount();
    const hook = await createHook(who, { url: "https://foo.example.com/d", jobTypes: ["import"], statuses: ["ok"] });
    expect(hook.scenes).toEqual(["all"]);
    expect(hook.active).toBe(true);
    expect((await v1(who, hook._id)).json).toMatchObject({ subjects: null, active: true });

    const all = await createHook(who, { url: "https://foo.example.com/e", jobTypes: ["import"], statuses: ["ok"], scenes: ["x", "all"] });
    expect(all.scenes).toEqual(["all"]);
    expect((await v1(who, all._id)).json.subjects).toBeNull();
  });

  it("Basic <name>:<key> is the auth; the wrong name, a wrong key or none is 401; Bearer <key> works too", async () => {
    const who = await createAccount();
    const body = { rawBody: SEED_JSON_BODY, contentType: "application/json" };
    expectProblem(await clara("POST", "/api/webhooks", { name: "someone-else", key: who.key }, body), 401);
    expectProblem(await clara("POST", "/api/webhooks", { name: who.name, key: "hk_not-a-real-key" }, body), 401);
    expectProblem(await call("POST", "/api/webhooks", { token: null, rawBody: SEED_JSON_BODY, headers: { "content-type": "application/json" } }), 401);
    // Another account's name with this key is still the wrong name.
    const other = await createAccount();
    expectProblem(await clara("GET", "/api/webhooks", { name: other.name, key: who.key }), 401);
    // Nothing was created by the refused calls.
    expect((await clara("GET", "/api/webhooks", who)).json).toEqual([]);

    expect((await clara("POST", "/api/webhooks", who, body)).status).toBe(200);
    const bearer = await call("GET", "/api/webhooks", { token: who.key });
    expect(bearer.status).toBe(200);
    expect(bearer.json).toHaveLength(1);
    // The operator is not an account: 403.
    expectProblem(await call("GET", "/api/webhooks"), 403);
  });
});

describe.concurrent("Clara.io: refused hooks", () => {
  it("an unknown job type or status is 422 naming it", async () => {
    const who = await createAccount();
    const p = expectProblem(
      await clara("POST", "/api/webhooks", who, {
        body: { url: "https://foo.example.com/h", jobTypes: ["export", "transmogrify"], statuses: ["ok", "done"] },
      }),
      422,
    );
    expect(p.errors).toEqual([
      { path: "jobTypes", message: expect.stringContaining("transmogrify") },
      { path: "statuses", message: expect.stringContaining("done") },
    ]);
    expect(p.errors![0].message).not.toMatch(/unknown: [^(]*export/);
    expect(p.detail).toContain("transmogrify");
    expect(p.detail).toContain("done");

    const form = expectProblem(
      await clara("POST", "/api/webhooks", who, {
        rawBody: "url=http://foo.example.com/hook&statuses[]=ok&jobTypes[]=Export",
        contentType: FORM,
      }),
      422,
    );
    expect(form.errors).toEqual([{ path: "jobTypes", message: expect.stringContaining("Export") }]);
    expect((await clara("GET", "/api/webhooks", who)).json).toEqual([]);
  });

  it("missing url, jobTypes or statuses is 422 naming each; so are empty lists and a bad active", async () => {
    const who = await createAccount();
    const none = expectProblem(await clara("POST", "/api/webhooks", who, { body: {} }), 422);
    expect(none.errors!.map((e) => e.path).sort()).toEqual(["jobTypes", "statuses", "url"]);

    const noUrl = expectProblem(
      await clara("POST", "/api/webhooks", who, { rawBody: "statuses[]=ok&jobTypes[]=export", contentType: FORM }),
      422,
    );
    expect(noUrl.errors!.map((e) => e.path)).toEqual(["url"]);

    const noStatuses = expectProblem(
      await clara("POST", "/api/webhooks", who, { body: { url: "https://foo.example.com/h", jobTypes: ["export"] } }),
      422,
    );
    expect(noStatuses.errors!.map((e) => e.path)).toEqual(["statuses"]);

    const empty = expectProblem(
      await clara("POST", "/api/webhooks", who, { body: { url: "https://foo.example.com/h", jobTypes: [], statuses: ["ok"] } }),
      422,
    );
    expect(empty.errors!.map((e) => e.path)).toEqual(["jobTypes"]);

    const badActive = expectProblem(
      await clara("POST", "/api/webhooks", who, { body: { url: "https://foo.example.com/h", jobTypes: ["export"], statuses: ["ok"], active: "maybe" } }),
      422,
    );
    expect(badActive.errors!.map((e) => e.path)).toEqual(["active"]);
    expect((await clara("GET", "/api/webhooks", who)).json).toEqual([]);
  });

  it("a trivial secret is 422 naming secret; an empty one means no secret", async () => {
    const who = await createAccount();
    const base = { url: "https://foo.example.com/h", jobTypes: ["export"], statuses: ["ok"] };
    const p = expectProblem(await clara("POST", "/api/webhooks", who, { body: { ...base, secret: "abc" } }), 422);
    expect(p.errors).toEqual([{ path: "secret", message: expect.any(String) }]);
    expect((await clara("GET", "/api/webhooks", who)).json).toEqual([]);
    const hook = await createHook(who, { ...base, secret: "" });
    expect(await v1Secret(who, hook._id)).toBeNull();
  });

  it("target rules still apply (a private address, a non-http scheme); broken JSON is 400; an unknown body type 415", async () => {
    const who = await createAccount();
    const base = { jobTypes: ["export"], statuses: ["ok"] };
    const local = expectProblem(await clara("POST", "/api/webhooks", who, { body: { ...base, url: "http://127.0.0.1/hook" } }), 422);
    expect(local.errors).toEqual([{ path: "url", message: expect.any(String) }]);
    expectProblem(await clara("POST", "/api/webhooks", who, { body: { ...base, url: "ftp://foo.example.com/hook" } }), 422);
    const broken = expectProblem(
      await clara("POST", "/api/webhooks", who, { rawBody: '{"url": "https://foo.example.com/h",', contentType: "application/json" }),
      400,
    );
    expect(broken.detail).toContain("JSON");
    expectProblem(await clara("POST", "/api/webhooks", who, { rawBody: "url=x", contentType: "text/plain" }), 415);
    expect((await clara("GET", "/api/webhooks", who)).json).toEqual([]);
  });

  it("the plan cap applies to the face: pro allows 3 subscriptions of any format, the 4th is 403", async () => {
    const who = await createAccount("pro");
    await createSubscription(who.key); // a /v1 standard subscription counts too
    await createHook(who, { url: "https://foo.example.com/1", jobTypes: ["export"], statuses: ["ok"] });
    await createHook(who, { url: "https://foo.example.com/2", jobTypes: ["export"], statuses: ["ok"], active: false });
    const p = expectProblem(
      await clara("POST", "/api/webhooks", who, { rawBody: SEED_FORM_BODY, contentType: FORM }),
      403,
    );
    expect(p.detail).toContain("3");
    expect((await clara("GET", "/api/webhooks", who)).json).toHaveLength(2);
  });
});

describe.concurrent("Clara.io: the hook's shape, changes, listing and deletion", () => {
  it("the secret is never echoed: not by create, PUT, GET or DELETE", async () => {
    const who = await createAccount();
    const secret = "clara-shared-secret-1";
    const created = await clara("POST", "/api/webhooks", who, {
      body: { url: "https://foo.example.com/s", jobTypes: ["export"], statuses: ["ok"], secret },
    });
    expect(created.status, created.text).toBe(200);
    expect(Object.keys(created.json).sort()).toEqual(HOOK_KEYS);
    const id = created.json._id;
    const answers = [
      created,
      await clara("PUT", `/api/webhooks/${id}`, who, { body: { secret: "clara-shared-secret-2" } }),
      await clara("GET", "/api/webhooks", who),
      await clara("DELETE", `/api/webhooks/${id}`, who),
    ];
    for (const res of answers) {
      expect(res.status, res.text).toBe(200);
      expect(res.text).not.toContain("clara-shared-secret");
      expect(res.text).not.toContain('"secret"');
    }
  });

  it("PUT changes only what it is given: url, jobTypes, statuses, scenes, active, each alone", async () => {
    const who = await createAccount();
    const hook = await createHook(who, { url: "https://foo.example.com/a", jobTypes: ["export"], statuses: ["ok"], secret: "keep-me-please" });
    const put = async (body: unknown) => {
      const res = await clara("PUT", `/api/webhooks/${hook._id}`, who, { body });
      expect(res.status, res.text).toBe(200);
      expect(Object.keys(res.json).sort()).toEqual(HOOK_KEYS);
      return res.json;
    };
    let expected = { ...hook };
    expected = { ...expected, url: "http://foo.example.com/b" };
    expect(await put({ url: "http://foo.example.com/b" })).toEqual(expected);
    expected = { ...expected, jobTypes: ["import", "export"] };
    const afterJobTypes = await put({ jobTypes: ["import", "export"] });
    expect({ ...afterJobTypes, jobTypes: sorted(afterJobTypes.jobTypes) }).toEqual({ ...expected, jobTypes: ["export", "import"] });
    expect(sorted((await v1(who, hook._id)).json.event_types)).toEqual(["export.ok", "import.ok"]);
    expected = { ...afterJobTypes, statuses: ["failed"] };
    expect(await put({ statuses: ["failed"] })).toEqual(expected);
    expect(sorted((await v1(who, hook._id)).json.event_types)).toEqual(["export.failed", "import.failed"]);
    expected = { ...expected, scenes: ["scene-9"] };
    expect(await put({ scenes: ["scene-9"] })).toEqual(expected);
    expect((await v1(who, hook._id)).json.subjects).toEqual(["scene-9"]);
    expected = { ...expected, active: false };
    expect(await put({ active: false })).toEqual(expected);
    expected = { ...expected, scenes: ["all"], active: true };
    expect(await put({ scenes: ["all"], active: true })).toEqual(expected);
    // An empty PUT changes nothing.
    expect(await put({})).toEqual(expected);
    // Nothing of this touched the secret.
    expect(await v1Secret(who, hook._id)).toBe("keep-me-please");
    // And the listing agrees with the last answer.
    expect((await clara("GET", "/api/webhooks", who)).json).toEqual([expected]);
  });

  it("PUT takes form bodies too (statuses[]=..., active=false)", async () => {
    const who = await createAccount();
    const hook = await createHook(who, { url: "https://foo.example.com/a", jobTypes: ["export"], statuses: ["ok"] });
    const res = await clara("PUT", `/api/webhooks/${hook._id}`, who, {
      rawBody: "statuses[]=pending&statuses[]=working&active=false",
      contentType: FORM,
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ ...hook, statuses: ["pending", "working"], active: false });
  });

  it("PUT sets a secret and clears it with an empty string", async () => {
    const who = await createAccount();
    const hook = await createHook(who, { url: "https://foo.example.com/a", jobTypes: ["export"], statuses: ["ok"] });
    expect(await v1Secret(who, hook._id)).toBeNull();
    const set = await clara("PUT", `/api/webhooks/${hook._id}`, who, { rawBody: "secret=now-with-a-secret", contentType: FORM });
    expect(set.status, set.text).toBe(200);
    expect(set.json).toEqual(hook);
    expect(await v1Secret(who, hook._id)).toBe("now-with-a-secret");
    const cleared = await clara("PUT", `/api/webhooks/${hook._id}`, who, { body: { secret: "" } });
    expect(cleared.status, cleared.text).toBe(200);
    expect(await v1Secret(who, hook._id)).toBeNull();
  });

  it("PUT refuses unknown names and bad urls with 422 and leaves the hook as it was", async () => {
    const who = await createAccount();
    const hook = await createHook(who, { url: "https://foo.example.com/a", jobTypes: ["export"], statuses: ["ok"] });
    const p = expectProblem(await clara("PUT", `/api/webhooks/${hook._id}`, who, { body: { statuses: ["finished"] } }), 422);
    expect(p.errors).toEqual([{ path: "statuses", message: expect.stringContaining("finished") }]);
    expectProblem(await clara("PUT", `/api/webhooks/${hook._id}`, who, { body: { url: "http://10.0.0.1/x" } }), 422);
    expectProblem(await clara("PUT", `/api/webhooks/${hook._id}`, who, { body: { jobTypes: [] } }), 422);
    expect((await clara("GET", "/api/webhooks", who)).json).toEqual([hook]);
  });

  it("GET is a bare array of the account's clara hooks only; /v1 sees the clara hook too", async () => {
    const who = await createAccount("business");
    const standard = await createSubscription(who.key);
    const smartshape = await createSubscription(who.key, { format: "smartshape", secret: "a-smartshape-token", event_types: ["attribute_updated"] });
    const a = await createHook(who, { url: "https://foo.example.com/a", jobTypes: ["export"], statuses: ["ok"] });
    const b = await createHook(who, { url: "https://foo.example.com/b", jobTypes: ["import"], statuses: ["failed"], scenes: ["s"] });
    const other = await createAccount();
    await createHook(other, { url: "https://foo.example.com/other", jobTypes: ["export"], statuses: ["ok"] });

    const res = await clara("GET", "/api/webhooks", who);
    expect(res.status).toBe(200);
    expect(Array.isArray(res.json)).toBe(true);
    expect(res.json).toEqual([a, b]);

    const all = await call("GET", "/v1/subscriptions", { token: who.key });
    expect(all.status).toBe(200);
    const byId = Object.fromEntries(all.json.data.map((s: any) => [s.id, s.format]));
    expect(byId).toEqual({ [standard.id]: "standard", [smartshape.id]: "smartshape", [a._id]: "clara", [b._id]: "clara" });
  });

  it("DELETE answers 200 with the hook; it is gone from GET and /v1, and a second DELETE is 404", async () => {
    const who = await createAccount();
    const keep = await createHook(who, { url: "https://foo.example.com/keep", jobTypes: ["export"], statuses: ["ok"] });
    const hook = await createHook(who, { url: "https://foo.example.com/gone", jobTypes: ["export"], statuses: ["ok"] });
    const res = await clara("DELETE", `/api/webhooks/${hook._id}`, who);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual(hook);
    expect((await clara("GET", "/api/webhooks", who)).json).toEqual([keep]);
    expect((await v1(who, hook._id)).status).toBe(404);
    expectProblem(await clara("DELETE", `/api/webhooks/${hook._id}`, who), 404);
    expectProblem(await clara("PUT", `/api/webhooks/${hook._id}`, who, { body: { active: false } }), 404);
  });

  it("another account's _id, a /v1 subscription of another format, or a missing id: 404 on PUT and DELETE, nothing changes", async () => {
    const who = await createAccount();
    const other = await createAccount();
    const theirs = await createHook(other, { url: "https://foo.example.com/theirs", jobTypes: ["export"], statuses: ["ok"] });
    const standard = await createSubscription(who.key);
    for (const id of [theirs._id, standard.id, MISSING_SUBSCRIPTION_ID, "not-an-id"]) {
      expectProblem(await clara("PUT", `/api/webhooks/${id}`, who, { body: { active: false, url: "https://evil.example.com/" } }), 404);
      expectProblem(await clara("DELETE", `/api/webhooks/${id}`, who), 404);
    }
    expect((await clara("GET", "/api/webhooks", other)).json).toEqual([theirs]);
    const still = await v1(who, standard.id);
    expect(still.status).toBe(200);
    expect(still.json).toMatchObject({ url: standard.url, active: true, format: "standard" });
  });
});

describe.concurrent("Clara.io: deliveries as the seed's receivers check them", () => {
  const job = (sceneId: string, status = "ok", type = "export") => ({
    _id: "5a1b2c3d4e5f6a7b8c9d0e1f",
    owner: "yourname",
    sceneId,
    status,
    type,
    createdAt: "2026-03-28T12:00:00.000Z",
    files: [{ name: "scene.fbx", url: "https://files.example.com/scene.fbx", size: 1024 }],
  });

  it("the body is exactly the job record; X-Clara-Delivery is the delivery id; X-Clara-Signature is sha256=<hex HMAC>", async () => {
    const who = await createAccount();
    const secret = "my-clara-hook-secret";
    const target = receiverUrl("ok");
    const hook = await createHook(who, { url: target.url, jobTypes: ["export"], statuses: ["ok"], secret });
    const record = job("scene-42");
    const event = await emit(who.id, "export.ok", record, { subject: "scene-42" });
    expect(event.deliveries).toBe(1);

    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    const [req] = await received(target.key);
    expect(req.method).toBe("POST");
    expect(req.body).toBe(JSON.stringify(record));
    expect(JSON.parse(req.body)).toEqual(record);
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.headers["x-clara-delivery"]).toBe(delivery.id);
    expect(req.headers["x-clara-signature"]).toBe("sha256=" + (await hexHmacSha256(secret, req.body)));
    // Signed over these bytes with this secret: another secret or another body does not match.
    expect(req.headers["x-clara-signature"]).not.toBe("sha256=" + (await hexHmacSha256("another-secret", req.body)));
    expect(req.headers["x-clara-signature"]).not.toBe("sha256=" + (await hexHmacSha256(secret, req.body + " ")));
    // No standard-webhooks headers on a Clara delivery.
    expect(req.headers["webhook-signature"]).toBeUndefined();
    const detail = await deliveryWithAttempts(delivery.id, who.key);
    expect(detail).toMatchObject({ subscription_id: hook._id, attempts_count: 1 });
  });

  it("no X-Clara-Signature when the hook has no secret, nor after the secret is cleared", async () => {
    const who = await createAccount();
    const target = receiverUrl("ok");
    const hook = await createHook(who, { url: target.url, jobTypes: ["import"], statuses: ["failed"] });
    const first = await emit(who.id, "import.failed", job("s1", "failed", "import"), { subject: "s1" });
    const [d1] = await settledDeliveries(first.id);
    expect(d1.status).toBe("delivered");

    expect((await clara("PUT", `/api/webhooks/${hook._id}`, who, { body: { secret: "temporary-secret" } })).status).toBe(200);
    const second = await emit(who.id, "import.failed", job("s2", "failed", "import"), { subject: "s2" });
    await settledDeliveries(second.id);
    expect((await clara("PUT", `/api/webhooks/${hook._id}`, who, { body: { secret: "" } })).status).toBe(200);
    const third = await emit(who.id, "import.failed", job("s3", "failed", "import"), { subject: "s3" });
    await settledDeliveries(third.id);

    const reqs = await received(target.key);
    expect(reqs).toHaveLength(3);
    const bySceneId = Object.fromEntries(reqs.map((r) => [JSON.parse(r.body).sceneId, r]));
    expect(bySceneId.s1.headers["x-clara-signature"]).toBeUndefined();
    expect(bySceneId.s1.headers["x-clara-delivery"]).toBe(d1.id);
    expect(bySceneId.s2.headers["x-clara-signature"]).toBe("sha256=" + (await hexHmacSha256("temporary-secret", bySceneId.s2.body)));
    expect(bySceneId.s3.headers["x-clara-signature"]).toBeUndefined();
    expect(bySceneId.s3.headers["x-clara-delivery"]).toMatch(/^dlv_/);
  });

  it("a hook with scenes gets only its scenes' jobs; a hook for all scenes gets every one; job type and status filter too", async () => {
    const who = await createAccount();
    const scoped = receiverUrl("ok");
    const everywhere = receiverUrl("ok");
    const scopedHook = await createHook(who, { url: scoped.url, jobTypes: ["export"], statuses: ["ok"], scenes: ["scene-a", "scene-b"] });
    const allHook = await createHook(who, { url: everywhere.url, jobTypes: ["export"], statuses: ["ok"] });

    const inScene = await emit(who.id, "export.ok", job("scene-a"), { subject: "scene-a" });
    expect(inScene.deliveries).toBe(2);
    const elsewhere = await emit(who.id, "export.ok", job("scene-c"), { subject: "scene-c" });
    expect(elsewhere.deliveries).toBe(1);
    const otherStatus = await emit(who.id, "export.failed", job("scene-a", "failed"), { subject: "scene-a" });
    expect(otherStatus.deliveries).toBe(0);
    const otherType = await emit(who.id, "import.ok", job("scene-a", "ok", "import"), { subject: "scene-a" });
    expect(otherType.deliveries).toBe(0);

    const inSceneDeliveries = await settledDeliveries(inScene.id);
    expect(new Set(inSceneDeliveries.map((d: any) => d.subscription_id))).toEqual(new Set([scopedHook._id, allHook._id]));
    const elsewhereDeliveries = await settledDeliveries(elsewhere.id);
    expect(elsewhereDeliveries.map((d: any) => d.subscription_id)).toEqual([allHook._id]);

    expect((await received(scoped.key)).map((r) => JSON.parse(r.body).sceneId)).toEqual(["scene-a"]);
    expect((await received(everywhere.key)).map((r) => JSON.parse(r.body).sceneId).sort()).toEqual(["scene-a", "scene-c"]);
  });

  it("an inactive hook gets nothing; PUT active=true turns it back on", async () => {
    const who = await createAccount();
    const target = receiverUrl("ok");
    const hook = await createHook(who, { url: target.url, jobTypes: ["renderFrame"], statuses: ["ok"], active: false });
    const off = await emit(who.id, "renderFrame.ok", job("s", "ok", "renderFrame"), { subject: "s" });
    // A matching event is recorded as skipped while the hook is off, and never sent.
    expect(off.deliveries).toBe(1);
    expect((await settledDeliveries(off.id)).map((d: any) => d.status)).toEqual(["skipped"]);
    expect((await clara("PUT", `/api/webhooks/${hook._id}`, who, { rawBody: "active=true", contentType: FORM })).json.active).toBe(true);
    const on = await emit(who.id, "renderFrame.ok", job("s", "ok", "renderFrame"), { subject: "s" });
    const [delivery] = await settledDeliveries(on.id);
    expect(delivery.status).toBe("delivered");
    expect(await received(target.key)).toHaveLength(1);
  });

  it("a failing receiver is retried with the same X-Clara-Delivery and the same signature each time", async () => {
    const who = await createAccount();
    const target = receiverUrl("flaky/1");
    await createHook(who, { url: target.url, jobTypes: ["export"], statuses: ["ok"], secret: "retry-secret-123" });
    const event = await emit(who.id, "export.ok", job("r1"), { subject: "r1" });
    const [delivery] = await settledDeliveries(event.id);
    expect(delivery.status).toBe("delivered");
    const reqs = await received(target.key);
    expect(reqs).toHaveLength(2);
    expect(reqs.map((r) => r.headers["x-clara-delivery"])).toEqual([delivery.id, delivery.id]);
    const expected = "sha256=" + (await hexHmacSha256("retry-secret-123", reqs[0].body));
    expect(reqs.map((r) => r.headers["x-clara-signature"])).toEqual([expected, expected]);
  });
});
