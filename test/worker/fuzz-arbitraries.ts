/** What the fuzzer sends: hostile strings, urls, subscription bodies and credentials (fast-check). */
import fc from "fast-check";

export const hostileString = fc.oneof(
  fc.string(),
  fc.string({ unit: "grapheme", maxLength: 50 }),
  fc.constantFrom("", " ", "\u0000", "\r\nX-Injected: 1", "\u202e", "😀".repeat(40), "a".repeat(5000), "%00", "../../etc/passwd", "<script>", "null"),
);

export const jsonValue = fc.jsonValue({ maxDepth: 3 });

/** Every target src/core/url-safety.ts refuses (private, loopback, metadata, credentials, schemes), in several spellings. */
export const refusedTargets = fc.constantFrom(
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

export const urlish = fc.oneof(refusedTargets, fc.webUrl(), hostileString);

const hostileSubscription = fc.record(
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

/** A valid body with up to two fields taken from a hostile one: far enough to be stored, or refused late. */
function overlay<T extends Record<string, unknown>>(valid: fc.Arbitrary<Record<string, unknown>>, hostile: fc.Arbitrary<T>) {
  return fc.tuple(valid, hostile).chain(([base, bad]) =>
    fc.subarray(Object.keys(bad), { maxLength: Math.min(2, Object.keys(bad).length) }).map((keys) => ({ ...base, ...Object.fromEntries(keys.map((k) => [k, bad[k]])) })),
  );
}

/** Wholly hostile bodies (mostly refused at once) and valid ones with hostile fields (stored, updated, deleted). */
export const subscriptionBody = fc.oneof(
  hostileSubscription,
  overlay(
    fc.constantFrom("standard", "clarife", "clara", "smartshape").map((format) => ({
      url: "https://receiver.test/ok/fuzz-subscription",
      event_types: ["document.*"],
      format,
      secret: "a-long-enough-secret-for-every-format",
    })),
    hostileSubscription,
  ),
);

/** One emitted event: hostile, or valid for account a or b with hostile fields laid over. */
export function eventBody(accountA: string, accountB: string) {
  const hostile = fc.record(
    {
      account_id: fc.oneof(fc.constant(accountA), fc.constant(accountB), hostileString),
      type: fc.oneof(fc.constantFrom("document.updated", "webhook.test", "no.such"), hostileString),
      subject: fc.oneof(fc.constant(null), hostileString),
      data: jsonValue,
      timestamp: fc.oneof(fc.constant("2026-01-01T00:00:00Z"), hostileString),
      idempotency_key: hostileString,
    },
    { requiredKeys: [] },
  );
  const valid = fc.record({
    account_id: fc.constantFrom(accountA, accountB),
    type: fc.constantFrom("document.updated", "webhook.test", "export.ok"),
    data: fc.dictionary(fc.string(), jsonValue, { maxKeys: 4 }),
  });
  return fc.oneof(hostile, overlay(valid, hostile));
}

const formEncoded = (o: Record<string, unknown>) => {
  const pairs = Object.entries(o).flatMap(([k, v]): [string, string][] => (Array.isArray(v) ? v.map((x) => [`${k}[]`, String(x)]) : [[k, String(v)]]));
  return { raw: new URLSearchParams(pairs).toString(), type: "application/x-www-form-urlencoded" };
};

/** Bodies for the Clara and SmartShape faces: broken text under each type, hostile forms and JSON, valid ones with hostile fields. */
export const faceBodies = fc.oneof(
  fc.string().map((s) => ({ raw: s, type: "application/x-www-form-urlencoded" })),
  fc.string().map((s) => ({ raw: s, type: "application/json" })),
  fc.string().map((s) => ({ raw: s, type: "application/form-data" })),
  fc.string().map((s) => ({ raw: s, type: "multipart/form-data; boundary=xyz" })),
  fc.record({ url: urlish, jobTypes: fc.array(hostileString), statuses: fc.array(hostileString), active: hostileString }).map(formEncoded),
  overlay(
    fc.constant({ url: "https://receiver.test/ok/fuzz-clara", jobTypes: ["export", "import"], statuses: ["ok"], active: "true" }),
    fc.record({ url: urlish, jobTypes: fc.array(hostileString, { maxLength: 3 }), statuses: fc.array(hostileString, { maxLength: 3 }), scenes: fc.array(hostileString, { maxLength: 3 }), active: hostileString, secret: hostileString }),
  ).map(formEncoded),
  fc.record({ event: hostileString, url: urlish, secretToken: hostileString }, { requiredKeys: [] }).map((o) => ({ raw: JSON.stringify(o), type: "" })),
  overlay(
    fc.constant({ event: "attribute_updated", url: "https://receiver.test/smartshape/fuzz", secretToken: "my-secret-token" }),
    fc.record({ event: fc.oneof(hostileString, jsonValue), url: urlish, secretToken: fc.oneof(hostileString, jsonValue) }),
  ).map((o) => ({ raw: JSON.stringify(o), type: "application/x-www-form-urlencoded" })),
);

export const credentials = fc.oneof(
  fc.constant<string | null>(null),
  fc.constantFrom("Bearer ", "Bearer hl_expired_or_revoked_key", "Basic !!!", "Basic " + btoa("nobody:nothing"), "Token abc", "Bearer " + "x".repeat(2000)),
  // What a client can put in a header at all: printable ASCII (fetch refuses the rest).
  fc.string({ unit: "binary-ascii", maxLength: 80 }).map((s) => `Bearer ${s.replace(/[^\x20-\x7e]/g, "")}`),
);

const patterns = fc.oneof(fc.constantFrom("(", "[a-", "^a+$", "(a+)+$", "\\p{L}+", "(?<n>a)\\k<n>", "*", "\\"), hostileString);

/** JSON Schemas that half make sense: known keywords with odd values, unresolvable refs, broken patterns. */
const jsonSchema = fc.oneof(
  jsonValue,
  fc.record(
    {
      type: fc.oneof(fc.constantFrom("object", "string", "number", "integer", "array", "boolean", "null", "nope"), fc.array(fc.constantFrom("string", "null", "nope"), { maxLength: 3 }), jsonValue),
      properties: fc.dictionary(hostileString, fc.record({ type: fc.constantFrom("string", "number", "object"), pattern: patterns, minLength: fc.oneof(fc.integer(), jsonValue) }, { requiredKeys: [] }), { maxKeys: 3 }),
      required: fc.oneof(fc.array(hostileString, { maxLength: 3 }), jsonValue),
      pattern: patterns,
      patternProperties: fc.dictionary(patterns, fc.constant({ type: "string" }), { maxKeys: 2 }),
      $ref: fc.constantFrom("#/nope", "https://example.com/schema", "#", "#/properties/x", "#/$defs/a"),
      $defs: fc.dictionary(hostileString, jsonValue, { maxKeys: 2 }),
      format: fc.constantFrom("email", "date-time", "uri", "regex", "nope"),
      items: jsonValue,
      enum: fc.array(jsonValue, { maxLength: 3 }),
      const: jsonValue,
      additionalProperties: fc.oneof(fc.boolean(), jsonValue),
      multipleOf: fc.oneof(fc.double(), fc.constantFrom(0, -1, 1e-300)),
      maxLength: fc.oneof(fc.integer(), jsonValue),
    },
    { requiredKeys: [] },
  ),
);

let named = 0;
/** Operator bodies: accounts and event types, hostile or valid with hostile fields laid over. */
export const operatorBodies = {
  account: overlay(
    fc.constant(null).map(() => ({ name: `fuzz-acct-${Date.now().toString(36)}-${named++}`, plan: "business" })),
    fc.record({ name: hostileString, email: hostileString, plan: fc.oneof(fc.constantFrom("pro", "business", "free"), hostileString), extra: jsonValue }, { requiredKeys: [] }),
  ),
  accountUpdate: fc.record({ plan: fc.oneof(fc.constantFrom("pro", "business"), hostileString), email: fc.oneof(fc.constant(null), hostileString, fc.emailAddress()), name: hostileString }, { requiredKeys: [] }),
  eventType: overlay(
    fc.constant(null).map(() => ({ name: `fuzz.t${named++}`, description: "fuzzed" })),
    fc.record({ name: hostileString, description: hostileString, schema: jsonSchema, example: jsonValue, deprecated: fc.oneof(fc.boolean(), jsonValue) }, { requiredKeys: [] }),
  ),
  eventTypeUpdate: fc.record({ description: hostileString, schema: fc.oneof(fc.constant(null), jsonSchema), example: jsonValue, deprecated: fc.oneof(fc.boolean(), jsonValue) }, { requiredKeys: [] }),
};
