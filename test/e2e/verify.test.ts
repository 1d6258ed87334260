/// <reference types="node" />
/**
 * `hookline/verify` against real deliveries: one subscription per format on the running
 * service, one event, and each received request checked by its format's verifier as a
 * receiver would (raw body, the request's headers as Node gives them or as a `Headers`),
 * then tampered with: body, headers, secret, timestamps.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CLARIFE_TOLERANCE_SECONDS,
  verify,
  verifyClara,
  verifyClarife,
  verifySmartShape,
  verifyStandard,
  WebhookVerificationError,
} from "../../src/verify/index";
import { answer, type ReceivedRequest, type Receiver, startReceiver } from "./receiver";
import { type Service, startService } from "./service";

const FORMATS = ["standard", "clara", "clarife", "smartshape"] as const;
type Format = (typeof FORMATS)[number];

let service: Service;
let receiver: Receiver;
let account: { id: string; key: string };
const subs = {} as Record<Format, { id: string; secret: string }>;
const received = {} as Record<Format, ReceivedRequest>;
let eventId: string;

const DATA = { nodeIdToAttributes: { n1: { "é": "1.0" } }, amount: 1e3, title: "Q3 plan \u2028" };

beforeAll(async () => {
  service = await startService({ RETRY_SCHEDULE: "1,1,1" });
  receiver = await startReceiver((_req, _n, res) => answer(res, 200, { success: true }));
  const res = await service.api("POST", "/v1/accounts", { body: { name: "verify-e2e", email: "verify@example.com", plan: "business" } });
  expect(res.status, res.text).toBe(201);
  account = { id: res.json.id, key: res.json.api_key.key };
  const secrets: Partial<Record<Format, string>> = { clara: "clara-secret-123", smartshape: "my-secret-token" };
  for (const format of FORMATS) {
    const made = await service.api("POST", "/v1/subscriptions", {
      token: account.key,
      body: { url: `${receiver.url}/${format}`, event_types: ["*"], format, secret: secrets[format] },
    });
    expect(made.status, made.text).toBe(201);
    subs[format] = { id: made.json.id, secret: secrets[format] ?? made.json.secret };
  }
  const emitted = await service.api("POST", "/v1/events", {
    // The raw JSON spells numbers and characters in ways a re-serialization changes.
    rawBody: `{"account_id": "${account.id}", "type": "attribute_updated", "subject": "file_1", "data": {"nodeIdToAttributes": {"n1": {"\\u00e9": "1.0"}}, "amount": 1e3, "title": "Q3 plan \\u2028"}}`,
    headers: { "content-type": "application/json" },
  });
  expect(emitted.status, emitted.text).toBe(202);
  eventId = emitted.json.data[0].id;
  for (const req of await receiver.waitFor(4)) received[req.path.slice(1) as Format] = req;
});

afterAll(async () => {
  await receiver?.close();
  await service?.stop();
});

/** The code of the verifier's rejection (fails the test if it resolves). */
async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(WebhookVerificationError);
    return (err as WebhookVerificationError).code;
  }
  throw new Error("verification passed");
}

const tamper = (body: string) => body.replace("Q3 plan", "Q4 plan");

describe("real deliveries verify", () => {
  it("standard: the standardwebhooks check, with Node's headers or a Headers", async () => {
    const { body, headers } = received.standard;
    const expected = { type: "attribute_updated", subject: "file_1", timestamp: expect.any(String), data: DATA };
    expect(await verifyStandard(body, headers, subs.standard.secret)).toEqual(expected);
    expect(await verify("standard", body, new Headers(headers), subs.standard.secret)).toEqual(expected);
  });

  it("clara: sha256= HMAC of the raw body", async () => {
    const { body, headers } = received.clara;
    expect(headers["x-clara-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(await verifyClara(body, headers, subs.clara.secret)).toEqual(DATA);
    expect(await verify("clara", body, new Headers(headers), subs.clara.secret)).toEqual(DATA);
  });

  it("clarife: t=,v1= over JSON.stringify(JSON.parse(raw)), within 300 s", async () => {
    const { body, headers } = received.clarife;
    const expected = { id: eventId, type: "attribute_updated", created_at: expect.any(String), data: DATA };
    expect(await verifyClarife(body, headers, subs.clarife.secret)).toEqual(expected);
    // The scheme covers the re-serialization, so another spelling of the same JSON verifies too.
    expect(await verifyClarife(JSON.stringify(JSON.parse(body), null, 2), headers, subs.clarife.secret)).toEqual(expected);
    const t = Number(/t=(\d+)/.exec(headers["x-clarife-signature"])![1]);
    expect(await verifyClarife(body, headers, subs.clarife.secret, { now: (t + CLARIFE_TOLERANCE_SECONDS - 1) * 1000 })).toEqual(expected);
  });

  it("smartshape: bcrypt of the secret token in x-smartshape-token", async () => {
    const { body, headers } = received.smartshape;
    const expected = {
      file: "file_1",
      event: "attribute_updated",
      data: DATA,
      owner: "verify@example.com",
      runTimestamp: expect.any(Number),
      uuid: eventId.replace(/^evt_/, ""),
    };
    expect(await verifySmartShape(body, headers, subs.smartshape.secret)).toEqual(expected);
    expect(await verify("smartshape", body, new Headers(headers), subs.smartshape.secret)).toEqual(expected);
  });

  it("standard after a rotation: both the new and the previous secret verify (two signatures)", async () => {
    const rotated = await service.api("POST", `/v1/subscriptions/${subs.standard.id}/rotate-secret`, { token: account.key });
    expect(rotated.status, rotated.text).toBe(200);
    const test = await service.api("POST", `/v1/subscriptions/${subs.standard.id}/test`, { token: account.key });
    expect(test.json.success, test.text).toBe(true);
    const req = receiver.requests.find((r) => r.path === "/standard" && r.headers["webhook-id"] === test.json.delivery_id)!;
    expect(req.headers["webhook-signature"].split(" ")).toHaveLength(2);
    for (const secret of [rotated.json.secret, subs.standard.secret]) {
      expect(await verifyStandard(req.body, req.headers, secret)).toMatchObject({ type: expect.any(String), data: expect.anything() });
    }
  });
});

describe("tampered deliveries are refused with a code", () => {
  it("a changed body", async () => {
    for (const format of ["standard", "clara", "clarife"] as const) {
      const { body, headers } = received[format];
      expect(await codeOf(verify(format, tamper(body), headers, subs[format].secret)), format).toBe("invalid_signature");
    }
    // smartshape's token does not cover the body (as in SmartShape): only the sender is authenticated.
    const { body, headers } = received.smartshape;
    expect(await verifySmartShape(tamper(body), headers, subs.smartshape.secret)).toMatchObject({ event: "attribute_updated" });
  });

  it("another secret", async () => {
    const others: Record<Format, string> = {
      standard: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
      clara: "another-secret",
      clarife: "another-secret",
      smartshape: "another-token",
    };
    for (const format of FORMATS) {
      const { body, headers } = received[format];
      expect(await codeOf(verify(format, body, headers, others[format])), format).toBe("invalid_signature");
    }
    expect(await codeOf(verifyStandard(received.standard.body, received.standard.headers, "not-base64!"))).toBe("invalid_secret");
    expect(await codeOf(verifyClara(received.clara.body, received.clara.headers, ""))).toBe("invalid_secret");
  });

  it("a missing or malformed signature header", async () => {
    const without = (headers: Record<string, string>, name: string) => Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name));
    const names: Record<Format, string> = {
      standard: "webhook-signature",
      clara: "x-clara-signature",
      clarife: "x-clarife-signature",
      smartshape: "x-smartshape-token",
    };
    for (const format of FORMATS) {
      const { body, headers } = received[format];
      expect(await codeOf(verify(format, body, without(headers, names[format]), subs[format].secret)), format).toBe("missing_header");
    }
    const { body, headers } = received.clara;
    expect(await codeOf(verifyClara(body, { ...headers, "x-clara-signature": "sha1=abc" }, subs.clara.secret))).toBe("invalid_header");
    const c = received.clarife;
    expect(await codeOf(verifyClarife(c.body, { ...c.headers, "x-clarife-signature": "v1=00" }, subs.clarife.secret))).toBe("invalid_header");
    const s = received.smartshape;
    expect(await codeOf(verifySmartShape(s.body, { ...s.headers, "x-smartshape-token": "my-secret-token" }, subs.smartshape.secret))).toBe("invalid_header");
  });

  it("stale or replayed timestamps", async () => {
    const { body, headers } = received.standard;
    const old = String(Number(headers["webhook-timestamp"]) - 600);
    expect(await codeOf(verifyStandard(body, { ...headers, "webhook-timestamp": old }, subs.standard.secret))).toBe("timestamp_out_of_tolerance");
    // A fresh timestamp on a captured delivery breaks standard's signature, which covers it.
    const fresh = String(Math.floor(Date.now() / 1000));
    if (fresh !== headers["webhook-timestamp"]) {
      expect(await codeOf(verifyStandard(body, { ...headers, "webhook-timestamp": fresh }, subs.standard.secret))).toBe("invalid_signature");
    }

    const c = received.clarife;
    const t = Number(/t=(\d+)/.exec(c.headers["x-clarife-signature"])![1]);
    const later = (t + CLARIFE_TOLERANCE_SECONDS + 1) * 1000;
    expect(await codeOf(verifyClarife(c.body, c.headers, subs.clarife.secret, { now: later }))).toBe("timestamp_out_of_tolerance");
    const earlier = (t - CLARIFE_TOLERANCE_SECONDS - 1) * 1000;
    expect(await codeOf(verifyClarife(c.body, c.headers, subs.clarife.secret, { now: earlier }))).toBe("timestamp_out_of_tolerance");
  });

  it("a body that is not JSON", async () => {
    const { headers } = received.smartshape;
    expect(await codeOf(verifySmartShape("not json", headers, subs.smartshape.secret))).toBe("invalid_payload");
  });
});
