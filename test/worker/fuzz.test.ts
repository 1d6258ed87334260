/**
 * Property-based fuzzing of every face with malformed and hostile input (fast-check).
 * Every answer must be a success or a 4xx problem body, never a 5xx; afterwards the
 * database holds no partial rows and no account saw another's data.
 */
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, createAccount, createSubscription } from "./harness";

// FUZZ_RUNS=1000 npm run test:unit -- test/worker/fuzz.test.ts runs a longer campaign.
const RUNS = Number(env.FUZZ_RUNS ?? 60);
const TIMEOUT = Math.max(30_000, RUNS * 300);
let cases = 0;

let a: Awaited<ReturnType<typeof createAccount>>;
let b: Awaited<ReturnType<typeof createAccount>>;
let bSubscription: { id: string; secret: string };

beforeAll(async () => {
  a = await createAccount("business");
  b = await createAccount("business");
  // An event type the fuzzer never emits: events it sends to b must not switch b's endpoint off.
  bSubscription = await createSubscription(b.key, {
    url: "https://b.example.com/private",
    description: "b-secret-desc",
    event_types: ["share.deleted"],
  });
});

afterAll(() => {
  console.log(`fuzz: ${cases} cases run`);
});

type Res = Awaited<ReturnType<typeof call>>;

/** The invariant every answer keeps. */
function checkAnswer(res: Res, what: string) {
  cases++;
  expect(res.status, `${what} -> ${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers.get("content-type"), what).toContain("application/problem+json");
    expect(res.json?.status, what).toBe(res.status);
    expect(typeof res.json?.detail, what).toBe("string");
  }
  // Nothing of account b ever reaches another caller.
  expect(res.text, what).not.toContain(bSubscription.id);
  expect(res.text, what).not.toContain(bSubscription.secret);
  expect(res.text, what).not.toContain("b-secret-desc");
}

const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.constantFrom("", " ", "\u0000", "\r\nX-Injected: 1", "\u202e", "😀".repeat(40), "a".repeat(5000), "%00", "../../etc/passwd", "<script>", "null"),
);

const jsonValue = fc.jsonValue({ maxDepth: 3 });

/** Every refused target of CONTRACT.md, in several spellings. */
const refusedTargets = fc.constantFrom(
  "https://127.0.0.1/hook",
  "https://127.1/hook",
  "https://0x7f000001/hook",
  "https://2130706433/hook",
  "https://0177.0.0.1/hook",
  "https://[::1]/hook",
  "https://[::ffff:127.0.0.1]/hook",
  "https://[::ffff:7f00:1]/hook",
  "https://0.0.0.0/hook",
  "https://10.1.2.3/hook",
  "https://172.16.0.1/hook",
  "https://172.31.255.255/hook",
  "https://192.168.1.1/hook",
  "https://100.64.0.1/hook",
  "https://169.254.169.254/latest/meta-data",
  "https://[fc00::1]/hook",
  "https://[fd12:3456::1]/hook",
  "https://[fe80::1]/hook",
  "https://localhost/hook",
  "https://LOCALHOST./hook",
  "https://api.localhost/hook",
  "https://localhost.localdomain/hook",
  "https://ip6-localhost/hook",
  "https://metadata.google.internal/computeMetadata/v1/",
  "https://user:pass@example.com/hook",
  "ftp://example.com/hook",
  "javascript:alert(1)",
  "file:///etc/passwd",
  "https://example.com/\r\nX-Injected: 1",
  "https://example.com/ho\tok",
  "http://example.com/plain-http-for-standard",
);

const urlish = fc.oneof(refusedTargets, fc.webUrl(), hostileString);

const subscriptionBody = fc.record(
  {
    url: urlish,
    event_types: fc.oneof(fc.array(fc.oneof(fc.constantFrom("*", "document.*", "document.updated", "nope.nope", "export.ok"), hostileString), { maxLength: 5 }), hostileString),
    subjects: fc.oneof(fc.constant(null), fc.array(hostileString, { maxLength: 3 })),
    description: hostileString,
    format: fc.oneof(fc.constantFrom("standard", "clara", "clarife", "smartshape"), hostileString),
    secret: fc.oneof(fc.constantFrom("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "short"), hostileString),
    headers: fc.oneof(
      fc.dictionary(fc.oneof(fc.constantFrom("X-Ok", "webhook-signature", "Content-Type", "Host", "X-Bad\r\nInjected"), hostileString), hostileString, { maxKeys: 3 }),
      jsonValue,
    ),
    metadata: fc.oneof(fc.dictionary(hostileString, hostileString, { maxKeys: 3 }), jsonValue),
    active: fc.oneof(fc.boolean(), jsonValue),
    extra_field: jsonValue,
  },
  { requiredKeys: [] },
);

const credentials = fc.oneof(
  fc.constant<string | null>(null),
  fc.constantFrom("Bearer ", "Bearer hl_expired_or_revoked_key", "Basic !!!", "Basic " + btoa("nobody:nothing"), "Token abc", "Bearer " + "x".repeat(2000)),
  // What a client can put in a header at all: printable ASCII (fetch refuses the rest).
  fc.string({ unit: "binary-ascii", maxLength: 80 }).map((s) => `Bearer ${s.replace(/[^\x20-\x7e]/g, "")}`),
);

describe("fuzzing every face", () => {
  it("/v1/subscriptions: create and update with hostile bodies", async () => {
    await fc.assert(
      fc.asyncProperty(subscriptionBody, fc.boolean(), async (body, raw) => {
        const res = raw
          ? await call("POST", "/v1/subscriptions", { token: a.key, rawBody: JSON.stringify(body).slice(0, -1), headers: { "content-type": "application/json" } })
          : await call("POST", "/v1/subscriptions", { token: a.key, body });
        checkAnswer(res, `POST /v1/subscriptions ${JSON.stringify(body).slice(0, 200)}`);
        if (res.status === 201) {
          const patch = await call("PATCH", `/v1/subscriptions/${res.json.id}`, { token: a.key, body });
          checkAnswer(patch, "PATCH");
          await call("DELETE", `/v1/subscriptions/${res.json.id}`, { token: a.key });
        }
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("refuses every private, loopback and metadata target with a 422 naming the url", async () => {
    await fc.assert(
      fc.asyncProperty(refusedTargets, fc.constantFrom("standard", "clarife", "clara", "smartshape"), async (url, format) => {
        const res = await call("POST", "/v1/subscriptions", { token: a.key, body: { url, event_types: ["*"], format, secret: "a-long-enough-secret" } });
        checkAnswer(res, url);
        if (url.startsWith("http://example.com") && (format === "clara" || format === "smartshape")) return;
        expect(res.status, `${url} as ${format}: ${res.text}`).toBe(422);
        expect(res.json.errors.map((e: { path: string }) => e.path)).toContain("url");
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("POST /v1/events: hostile events and batches", async () => {
    const event = fc.record(
      {
        account_id: fc.oneof(fc.constant(a.id), fc.constant(b.id), hostileString),
        type: fc.oneof(fc.constantFrom("document.updated", "webhook.test", "no.such"), hostileString),
        subject: fc.oneof(fc.constant(null), hostileString),
        data: jsonValue,
        timestamp: fc.oneof(fc.constant("2026-01-01T00:00:00Z"), hostileString),
        idempotency_key: hostileString,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(event, fc.record({ events: fc.array(event, { maxLength: 5 }) }), jsonValue), async (body) => {
        checkAnswer(await call("POST", "/v1/events", { body }), `POST /v1/events ${JSON.stringify(body).slice(0, 200)}`);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("the Clara and SmartShape faces: broken JSON and form bodies", async () => {
    const bodies = fc.oneof(
      fc.string().map((s) => ({ raw: s, type: "application/x-www-form-urlencoded" })),
      fc.string().map((s) => ({ raw: s, type: "application/json" })),
      fc.string().map((s) => ({ raw: s, type: "application/form-data" })),
      fc.string().map((s) => ({ raw: s, type: "multipart/form-data; boundary=xyz" })),
      fc
        .record({ url: urlish, jobTypes: fc.array(hostileString), statuses: fc.array(hostileString), active: hostileString })
        .map((o) => {
          const pairs = Object.entries(o).flatMap(([k, v]): [string, string][] => (Array.isArray(v) ? v.map((x) => [`${k}[]`, x]) : [[k, String(v)]]));
          return { raw: new URLSearchParams(pairs).toString(), type: "application/x-www-form-urlencoded" };
        }),
      fc.record({ event: hostileString, url: urlish, secretToken: hostileString }, { requiredKeys: [] }).map((o) => ({ raw: JSON.stringify(o), type: "" })),
    );
    await fc.assert(
      fc.asyncProperty(bodies, fc.constantFrom(["POST", "/api/webhooks"], ["PUT", "/webhook/"], ["PUT", `/api/webhooks/${bSubscription.id}`]), async (body, [method, path]) => {
        const res = await call(method, path, {
          basic: [a.name, a.key],
          rawBody: body.raw,
          headers: body.type ? { "content-type": body.type } : {},
        });
        checkAnswer(res, `${method} ${path} ${body.raw.slice(0, 100)}`);
      }),
      { numRuns: RUNS },
    );
  }, TIMEOUT);

  it("other accounts' ids, odd ids and odd credentials", async () => {
    const id = fc.oneof(fc.constant(bSubscription.id), fc.constant(bSubscription.id.toUpperCase()), hostileString.map(encodeURIComponent), fc.uuid().map((u) => `sub_${u}`));
    const route = fc.constantFrom(
      ["GET", "/v1/subscriptions/:id"],
      ["PATCH", "/v1/subscriptions/:id"],
      ["DELETE", "/v1/subscriptions/:id"],
      ["GET", "/v1/subscriptions/:id/secret"],
      ["POST", "/v1/subscriptions/:id/rotate-secret"],
      ["POST", "/v1/subscriptions/:id/test"],
      ["GET", "/v1/subscriptions/:id/deliveries"],
      ["GET", "/v1/deliveries/:id"],
      ["POST", "/v1/deliveries/:id/redeliver"],
      ["GET", "/v1/events/:id"],
      ["GET", "/v1/accounts/:id"],
      ["DELETE", "/webhook/:id"],
      ["PUT", "/api/webhooks/:id"],
    );
    await fc.assert(
      fc.asyncProperty(id, route, fc.oneof(fc.constant<string | null | undefined>(undefined), credentials), async (target, [method, template], auth) => {
        const path = template.replace(":id", target);
        const res = await call(method, path, {
          token: auth === undefined ? a.key : null,
          headers: auth ? { authorization: auth } : {},
          body: method === "GET" || method === "DELETE" ? undefined : {},
        });
        checkAnswer(res, `${method} ${path} (${auth === undefined ? "account a" : String(auth).slice(0, 30)})`);
        if (target === bSubscription.id && auth === undefined) expect(res.status).toBe(404);
      }),
      { numRuns: RUNS * 2 },
    );
  }, TIMEOUT);

  it("left no partial rows and did not touch account b", async () => {
    const orphans = await env.DB.batch([
      env.DB.prepare("SELECT count(*) AS n FROM subscriptions s WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id)"),
      env.DB.prepare("SELECT count(*) AS n FROM api_keys k WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = k.account_id)"),
      env.DB.prepare("SELECT count(*) AS n FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)"),
      env.DB.prepare("SELECT count(*) AS n FROM subscriptions WHERE secret_enc IS NULL AND format != 'clara'"),
      env.DB.prepare("SELECT count(*) AS n FROM subscriptions WHERE format = 'smartshape' AND derived_enc IS NULL"),
      env.DB.prepare("SELECT count(*) AS n FROM events WHERE account_id NOT IN (SELECT id FROM accounts)"),
    ]);
    expect(orphans.map((r) => (r.results[0] as { n: number }).n)).toEqual([0, 0, 0, 0, 0, 0]);
    const mine = await call("GET", `/v1/subscriptions/${bSubscription.id}`, { token: b.key });
    expect(mine.json).toMatchObject({ url: "https://b.example.com/private", description: "b-secret-desc", active: true });
    const secret = await call("GET", `/v1/subscriptions/${bSubscription.id}/secret`, { token: b.key });
    expect(secret.json.secret).toBe(bSubscription.secret);
    expect(cases).toBeGreaterThan(RUNS * 5);
  });
});
