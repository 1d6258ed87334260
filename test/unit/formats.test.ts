/** The wire formats (README "Verifying a delivery"): bodies, signatures and success rules. */
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { type FormatEvent, formats, type ResponseSummary } from "../../src/core/formats";
import { signStandard, standardSecretError } from "../../src/core/formats/standard";

const { standard, clara, clarife, smartshape } = formats;

/** HMAC-SHA256 computed here, independently of src/core/crypto.ts. */
async function hmac(key: Uint8Array, message: string): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, new TextEncoder().encode(message)));
}
const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const utf8 = (s: string) => new TextEncoder().encode(s);

const normalize = (raw: string) => JSON.stringify(JSON.parse(raw));

function event(data: string, extra: Partial<FormatEvent> = {}): FormatEvent {
  return {
    id: "evt_0b7c0ad6-3c39-4a35-8d1f-6f1f2a1e4c2b",
    type: "document.updated",
    subject: null,
    data: normalize(data),
    timestamp: Date.UTC(2026, 10, 23, 12, 0, 0, 123),
    owner: "acme",
    ...extra,
  };
}

const signing = (secrets: string[], extra: Partial<{ deliveryId: string; derived: string | null; now: number }> = {}) => ({
  deliveryId: "dlv_5d1f0c2e-8a4b-4f6e-9c3d-2b1a0f9e8d7c",
  secrets,
  derived: null,
  now: 1_795_435_200_999,
  ...extra,
});

describe("standard", () => {
  const vector = {
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
    timestamp: 1614265330,
    body: '{"test": 2432232314}',
    signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
  };

  it("signs the specification's test vector", async () => {
    expect(await signStandard(vector.secret, vector.id, vector.timestamp, vector.body)).toBe(vector.signature);
  });

  it("accepts whsec_ secrets of 24 to 64 bytes and nothing else", () => {
    expect(standardSecretError(vector.secret)).toBeNull();
    expect(standardSecretError("whsec_" + btoa("x".repeat(24)))).toBeNull();
    expect(standardSecretError("whsec_" + btoa("x".repeat(64)))).toBeNull();
    expect(standardSecretError("whsec_" + btoa("x".repeat(23)))).toMatch(/24 to 64 bytes, got 23/);
    expect(standardSecretError("whsec_" + btoa("x".repeat(65)))).toMatch(/24 to 64 bytes, got 65/);
    expect(standardSecretError("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).toMatch(/whsec_/);
    expect(standardSecretError("whsec_not base64!!")).toMatch(/base64/);
    expect(standardSecretError("whsec_")).toMatch(/24 to 64 bytes, got 0/);
  });

  it("generates secrets it accepts", () => {
    const secret = standard.secret.generate();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(standard.secret.check(secret)).toBeNull();
    expect(standard.secret.generate()).not.toBe(secret);
  });

  it("sends {type, timestamp, data} and subject when set", () => {
    const plain = JSON.parse(standard.body(event('{"a": 1}')));
    expect(plain).toEqual({ type: "document.updated", timestamp: "2026-11-23T12:00:00.123Z", data: { a: 1 } });
    expect(Object.keys(plain)).toEqual(["type", "timestamp", "data"]);
    const withSubject = JSON.parse(standard.body(event("[1,2]", { subject: 'doc "1"' })));
    expect(withSubject).toEqual({
      type: "document.updated",
      timestamp: "2026-11-23T12:00:00.123Z",
      subject: 'doc "1"',
      data: [1, 2],
    });
  });

  it("signs headers a Standard Webhooks library verifies, with every secret during a rotation", async () => {
    const now = Date.now();
    const secrets = [standard.secret.generate(), vector.secret];
    const body = standard.body(event('{"x": "y"}'));
    const headers = await standard.headers(body, signing(secrets, { now }));
    expect(headers["webhook-id"]).toBe("dlv_5d1f0c2e-8a4b-4f6e-9c3d-2b1a0f9e8d7c");
    expect(headers["webhook-timestamp"]).toBe(String(Math.floor(now / 1000)));
    const signatures = headers["webhook-signature"].split(" ");
    expect(signatures).toHaveLength(2);
    for (const s of signatures) expect(s).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    for (const secret of secrets) {
      expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
    }
    expect(() => new Webhook(standard.secret.generate()).verify(body, headers)).toThrow();
  });
});

describe("clarife", () => {
  const secret = "whsec_clarife-secret-for-tests";

  it.each([
    ["a float that is an integer", "1.0"],
    ["an exponent", "1e3"],
    ["an escaped non-ASCII character", '"\\u00e9"'],
    ["integer-like keys after others", '{"b":1,"1":2}'],
    ["nested arrays and objects", '{"a":[[1,[2,{"c":[3.50,-0]}]],[]],"z":{"y":{"x":null}}}'],
    ["a big integer", '{"n": 12345678901234567890123}'],
    ["escapes and unicode", '{"s":"line\\nbreak \\"quoted\\" \\u2028 \\ud83d\\ude00 \\/"}'],
    ["whitespace", '  { "spaced" :  [ 1 , 2 ] }  '],
    ["a bare string", '"hello"'],
    ["null", "null"],
  ])("the body is exactly JSON.stringify of its parse: %s", (_name, raw) => {
    const ev = event(raw);
    const body = clarife.body(ev);
    expect(body).toBe(JSON.stringify(JSON.parse(body)));
    expect(JSON.parse(body)).toEqual({
      id: ev.id,
      type: "document.updated",
      created_at: "2026-11-23T12:00:00.123Z",
      data: JSON.parse(normalize(raw)),
    });
    expect(Object.keys(JSON.parse(body))).toEqual(["id", "type", "created_at", "data"]);
  });

  it("signs t=<seconds>,v1=<hex HMAC of the body> with the whole secret string as key", async () => {
    const body = clarife.body(event('{"a":1}'));
    const headers = await clarife.headers(body, signing([secret]));
    const expected = hex(await hmac(utf8(secret), body));
    expect(headers).toEqual({ "X-Clarife-Signature": `t=1795435200,v1=${expected}` });
  });

  it("generates a secret of the form it accepts, and accepts any 8-256 character string", () => {
    expect(clarife.secret.kind).toBe("generated");
    expect(clarife.secret.rotationGraceSeconds).toBe(0);
    expect(clarife.secret.check(clarife.secret.generate())).toBeNull();
    expect(clarife.secret.check("short")).toMatch(/8 to 256/);
    expect(clarife.secret.check("x".repeat(257))).toMatch(/8 to 256/);
  });
});

describe("clara", () => {
  const secret = "my clara secret";

  it("sends the event's data as the body", () => {
    const ev = event('{"_id":"job1","status":"ok","type":"renderFrame"}', { type: "renderFrame.ok" });
    expect(clara.body(ev)).toBe('{"_id":"job1","status":"ok","type":"renderFrame"}');
  });

  it("signs sha256=<hex HMAC of the body> with the whole secret string as key", async () => {
    const body = '{"_id":"job1","status":"ok"}';
    const headers = await clara.headers(body, signing([secret]));
    expect(headers).toEqual({
      "X-Clara-Delivery": "dlv_5d1f0c2e-8a4b-4f6e-9c3d-2b1a0f9e8d7c",
      "X-Clara-Signature": "sha256=" + hex(await hmac(utf8(secret), body)),
    });
  });

  it("sends no signature without a secret, and the secret is optional", async () => {
    const headers = await clara.headers("{}", signing([]));
    expect(headers).toEqual({ "X-Clara-Delivery": "dlv_5d1f0c2e-8a4b-4f6e-9c3d-2b1a0f9e8d7c" });
    expect(clara.secret.kind).toBe("optional");
  });
});

describe("one secret string in two formats signs with each format's own key", () => {
  // A subscription can change format and keep its secret (whsec_ strings are valid
  // seed-format secrets), so the same string must not share a cached key across formats.
  it("standard first, then clara and clarife", async () => {
    const shared = "whsec_" + btoa("k".repeat(32));
    const body = '{"a":1}';
    const keyBytes = Uint8Array.from(atob(shared.slice(6)), (c) => c.charCodeAt(0));
    const std = await signStandard(shared, "msg_1", 1700000000, body);
    expect(std).toBe("v1," + btoa(String.fromCharCode(...(await hmac(keyBytes, `msg_1.1700000000.${body}`)))));
    const wholeKey = hex(await hmac(utf8(shared), body));
    expect((await clara.headers(body, signing([shared])))["X-Clara-Signature"]).toBe("sha256=" + wholeKey);
    expect((await clarife.headers(body, signing([shared])))["X-Clarife-Signature"]).toBe(`t=1795435200,v1=${wholeKey}`);
  });

  it("clara first, then standard", async () => {
    const shared = "whsec_" + btoa("q".repeat(32));
    const body = '{"b":2}';
    const wholeKey = hex(await hmac(utf8(shared), body));
    expect((await clara.headers(body, signing([shared])))["X-Clara-Signature"]).toBe("sha256=" + wholeKey);
    const keyBytes = Uint8Array.from(atob(shared.slice(6)), (c) => c.charCodeAt(0));
    const expected = "v1," + btoa(String.fromCharCode(...(await hmac(keyBytes, `msg_2.1700000000.${body}`))));
    expect(await signStandard(shared, "msg_2", 1700000000, body)).toBe(expected);
  });
});

describe("smartshape", () => {
  it("sends {file, event, data, owner, runTimestamp, uuid}", () => {
    const ev = event('{"k": [1, 2.0]}', { type: "file_uploaded", subject: "scene-42" });
    const body = smartshape.body(ev);
    expect(JSON.parse(body)).toEqual({
      file: "scene-42",
      event: "file_uploaded",
      data: { k: [1, 2] },
      owner: "acme",
      runTimestamp: ev.timestamp,
      uuid: "0b7c0ad6-3c39-4a35-8d1f-6f1f2a1e4c2b",
    });
    expect(JSON.parse(smartshape.body(event("{}", { subject: null }))).file).toBeNull();
  });

  it("sends the derived bcrypt token, which verifies against the secret", async () => {
    const { compare } = await import("bcryptjs");
    const derived = await smartshape.secret.derive!("s3cret-token");
    expect(derived).toMatch(/^\$2[aby]\$10\$/);
    expect(await compare("s3cret-token", derived)).toBe(true);
    expect(await smartshape.headers("{}", signing(["s3cret-token"], { derived }))).toEqual({
      "x-smartshape-token": derived,
    });
    expect(smartshape.secret.kind).toBe("required");
  });

  const response = (status: number, contentType: string | null, body: string): ResponseSummary => ({
    status,
    contentType,
    body,
  });

  it.each([
    [response(200, "application/json", '{"success":true}')],
    [response(200, "application/json; charset=utf-8", '{"success": true, "extra": 1}')],
    [response(200, "Application/JSON;charset=UTF-8", '{"success":true}')],
    [response(200, " application/json ; q=1", '  {"success":true}  ')],
  ])("success: %j", (r) => {
    expect(smartshape.isSuccess(r)).toBe(true);
  });

  it.each([
    [response(201, "application/json", '{"success":true}')],
    [response(204, "application/json", '{"success":true}')],
    [response(299, "application/json", '{"success":true}')],
    [response(500, "application/json", '{"success":true}')],
    [response(200, "text/plain", '{"success":true}')],
    [response(200, "text/json", '{"success":true}')],
    [response(200, "application/problem+json", '{"success":true}')],
    [response(200, "application/jsonx", '{"success":true}')],
    [response(200, null, '{"success":true}')],
    [response(200, "", '{"success":true}')],
    [response(200, "application/json", '{"success":false}')],
    [response(200, "application/json", '{"success":"true"}')],
    [response(200, "application/json", '{"success":1}')],
    [response(200, "application/json", '{"ok":true}')],
    [response(200, "application/json", '[{"success":true}]')],
    [response(200, "application/json", "true")],
    [response(200, "application/json", "null")],
    [response(200, "application/json", "")],
    [response(200, "application/json", '{"success":tru')],
    [response(200, "application/json", "not json")],
  ])("not success: %j", (r) => {
    expect(smartshape.isSuccess(r)).toBe(false);
  });
});

describe("2xx formats", () => {
  it.each([standard, clara, clarife])("$name: success is any 2xx, never a 3xx", (format) => {
    const r = (status: number) => ({ status, contentType: null, body: "" });
    expect(format.isSuccess(r(200))).toBe(true);
    expect(format.isSuccess(r(204))).toBe(true);
    expect(format.isSuccess(r(299))).toBe(true);
    expect(format.isSuccess(r(199))).toBe(false);
    expect(format.isSuccess(r(301))).toBe(false);
    expect(format.isSuccess(r(302))).toBe(false);
    expect(format.isSuccess(r(404))).toBe(false);
    expect(format.isSuccess(r(500))).toBe(false);
  });
});

describe("reserved headers", () => {
  it("each format names the headers it sets", () => {
    expect(standard.reservedHeaders).toEqual(["webhook-id", "webhook-timestamp", "webhook-signature"]);
    expect(clara.reservedHeaders).toEqual(expect.arrayContaining(["x-clara-delivery", "x-clara-signature"]));
    expect(clarife.reservedHeaders).toEqual(["x-clarife-signature"]);
    expect(smartshape.reservedHeaders).toEqual(["x-smartshape-token"]);
  });
});
