/**
 * Browsers may not drive the API faces from another site: a form on evil.example that posts to
 * /api/webhooks with Basic credentials the browser cached must change nothing. curl and other
 * plain clients send neither Sec-Fetch-Site nor Origin and keep working. And no 401 ever asks a
 * browser for Basic credentials (that prompt is what fills its credential cache).
 */
import { describe, expect, it } from "vitest";
import { BASE, call, type CallOptions, createAccount, expectProblem } from "./harness";

const FORM = "application/x-www-form-urlencoded";
const CLARA_FORM = "url=http://foo.example.com/hook&statuses[]=ok&jobTypes[]=export&active=true";
const SMARTSHAPE_JSON = JSON.stringify({ event: "attribute_updated", url: "https://my.domain.com/path/to/webhook/endpoint", secretToken: "my-secret-token" });

/** What a browser adds to a request that another site started. */
const fromElsewhere: Array<[string, Record<string, string>]> = [
  ["Sec-Fetch-Site: cross-site", { "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate" }],
  ["Sec-Fetch-Site: same-site", { "sec-fetch-site": "same-site" }],
  ["an Origin of another site", { origin: "https://evil.example" }],
  ["Origin: null (a sandboxed frame)", { origin: "null" }],
];

async function faces(key: string, name: string, headers: Record<string, string>) {
  return {
    v1: await call("POST", "/v1/subscriptions", {
      token: key,
      headers,
      body: { url: "https://example.com/hook", event_types: ["document.updated"] },
    }),
    clara: await call("POST", "/api/webhooks", { basic: [name, key], rawBody: CLARA_FORM, headers: { "content-type": FORM, ...headers } }),
    smartshape: await call("PUT", "/webhook/", { token: key, rawBody: SMARTSHAPE_JSON, headers: { "content-type": FORM, ...headers } }),
    operator: await call("POST", "/v1/accounts", { headers, body: { name: `never-${crypto.randomUUID()}` } }),
  };
}

describe("cross-site browser requests", () => {
  it.each(fromElsewhere)("%s is refused with a 403 naming why, on every face, and changes nothing", async (_what, headers) => {
    const { key, name } = await createAccount();
    for (const [face, res] of Object.entries(await faces(key, name, headers))) {
      const p = expectProblem(res, 403);
      expect(p.detail, face).toMatch(/another site/);
      expect(res.headers.get("www-authenticate"), face).toBeNull();
    }
    // Refused before authentication: no credential at all is a 403 too, never a 401 challenge.
    expectProblem(await call("GET", "/v1/account", { token: null, headers }), 403);
    expectProblem(await call("GET", "/api/webhooks", { token: null, headers }), 403);
    expect((await call("GET", "/v1/subscriptions", { token: key })).json.data).toEqual([]);
  });

  it("curl (no Sec-Fetch-Site, no Origin) and this origin's own pages keep working", async () => {
    const curl = await createAccount("business");
    const plain = await faces(curl.key, curl.name, {});
    expect([plain.v1.status, plain.clara.status, plain.smartshape.status, plain.operator.status]).toEqual([201, 200, 200, 201]);

    const own = await createAccount("business");
    const sameOrigin = await faces(own.key, own.name, { origin: BASE, "sec-fetch-site": "same-origin" });
    expect([sameOrigin.v1.status, sameOrigin.clara.status, sameOrigin.smartshape.status, sameOrigin.operator.status]).toEqual([
      201, 200, 200, 201,
    ]);
    // Typed in the address bar: Sec-Fetch-Site: none.
    expect((await call("GET", "/api/webhooks", { basic: [own.name, own.key], headers: { "sec-fetch-site": "none" } })).status).toBe(200);
  });
});

describe("401 challenges", () => {
  it("/v1 names Bearer realm=\"hookline\"; no face asks for Basic, so a browser never prompts", async () => {
    const { name } = await createAccount();
    const asked: Array<[string, CallOptions]> = [
      ["/v1/account", { token: null }],
      ["/v1/subscriptions", { token: "hl_wrong" }],
      ["/api/webhooks", { token: null }],
      ["/api/webhooks", { basic: [name, "hl_wrong"] }],
      ["/webhook/", { token: "hl_wrong" }],
    ];
    for (const [path, opts] of asked) {
      const res = await call("GET", path, opts);
      expectProblem(res, 401);
      expect(res.headers.get("www-authenticate"), path).toBe('Bearer realm="hookline"');
    }
  });
});
