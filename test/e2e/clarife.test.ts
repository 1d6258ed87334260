/// <reference types="node" />
/**
 * clarife receivers end to end: the real service (wrangler dev through the launcher) and
 * real Node receivers on 127.0.0.1 that check every delivery with the seed's own
 * verifyWebhookSignature (clarife-seed-verifier.mjs, copied verbatim) on the PARSED body,
 * as an Express json() receiver would. The retry schedule is shortened to 1,1,1 (the real
 * 1 s / 10 s / 60 s timing is covered by delivery.test.ts); DELIVERY_TIMEOUT_MS is left
 * at the service's default (wrangler.toml: 10000), which the last test pins.
 */
import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { verifyWebhookSignature } from "./clarife-seed-verifier.mjs";
import { answer, type ReceivedRequest, type Receiver, startReceiver } from "./receiver";
import { type Service, startService } from "./service";

let service: Service;
let account: { id: string; key: string };
const receivers: Receiver[] = [];

beforeAll(async () => {
  service = await startService({ RETRY_SCHEDULE: "1,1,1" });
  const res = await service.api("POST", "/v1/accounts", { body: { name: "e2e-clarife", plan: "business" } });
  expect(res.status, res.text).toBe(201);
  account = { id: res.json.id, key: res.json.api_key.key };
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await service?.stop();
});

/** What the receiver's check said about one request. */
interface Check {
  req: ReceivedRequest;
  verified: boolean;
  error: string | null;
}

/** The seed's check as a receiver runs it: JSON.parse of the raw body (Express json()), then verify. */
function seedCheck(req: ReceivedRequest, secret: string): Omit<Check, "req"> {
  try {
    const payload = JSON.parse(req.body);
    return { verified: verifyWebhookSignature(payload, req.headers["x-clarife-signature"], secret), error: null };
  } catch (err) {
    return { verified: false, error: String(err) };
  }
}

/**
 * A receiver that verifies every request with the seed's function under the subscription's
 * secret: 401 when it does not verify, else `status(n)` (a failing status still gets verified).
 */
async function clarifeReceiver(status: (n: number) => number = () => 200, delayMs: (n: number) => number = () => 0) {
  const checks: Check[] = [];
  let secret = "";
  const r = await startReceiver(async (req, n, res) => {
    const check = { req, ...seedCheck(req, secret) };
    checks.push(check);
    const wait = delayMs(n);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    answer(res, check.verified ? status(n) : 401, { verified: check.verified });
  });
  receivers.push(r);
  return {
    receiver: r,
    checks,
    async subscribe(eventTypes: string[]) {
      const res = await service.api("POST", "/v1/subscriptions", {
        token: account.key,
        body: { url: `${r.url}/webhooks/clarife`, event_types: eventTypes, format: "clarife" },
      });
      expect(res.status, res.text).toBe(201);
      expect(res.json.format).toBe("clarife");
      secret = res.json.secret;
      return res.json as { id: string; secret: string };
    },
  };
}

/** POST /v1/events with this exact text as the body. */
async function emitRaw(raw: string) {
  const res = await service.api("POST", "/v1/events", { rawBody: raw, headers: { "content-type": "application/json" } });
  expect(res.status, res.text).toBe(202);
  return res.json.data as { id: string; deliveries: number }[];
}

const eventText = (type: string, rawData: string, extra = "") =>
  `{"account_id": ${JSON.stringify(account.id)}, "type": "${type}"${extra}, "data": ${rawData}}`;

async function settledDelivery(eventId: string) {
  let last = "";
  for (let i = 0; i < 150; i++) {
    const res = await service.api("GET", `/v1/events/${eventId}`, { token: account.key });
    const d = res.json?.deliveries?.[0];
    if (d) {
      const detail = await service.api("GET", `/v1/deliveries/${d.id}`, { token: account.key });
      expect(detail.status, detail.text).toBe(200);
      if (!["pending", "in_flight"].includes(detail.json.status)) return detail.json;
      last = detail.text;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`the delivery of ${eventId} never settled: ${last}`);
}

const sigParts = (header: string) => {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header);
  expect(m, header).not.toBeNull();
  return { t: Number(m![1]), v1: m![2] };
};

// None of this is written the way JSON.stringify would write it, so a byte-for-byte signature would not survive.
const TRICKY = String.raw`{"a": 1.0, "b": 1e3, "c": "\u00e9", "d": {"b": 1, "1": 2}, "e": [[1, [2, [3]]], []], "f": 12345678901234567890, "g": -0.0, "h": 1.5e-7, "i": "\u2028"}`;

describe("the seed's verifyWebhookSignature on every clarife delivery", () => {
  it("accepts every fresh delivery, including data that does not survive a naive round trip", async () => {
    const { receiver, checks, subscribe } = await clarifeReceiver();
    const sub = await subscribe(["document.updated"]);

    // The literals really are on the wire into Hookline as written.
    for (const literal of ['"a": 1.0', '"b": 1e3', String.raw`"c": "\u00e9"`, '"1": 2}', '"f": 12345678901234567890', '"g": -0.0', '"h": 1.5e-7', String.raw`"i": "\u2028"`]) {
      expect(eventText("document.updated", TRICKY)).toContain(literal);
    }
    expect(JSON.stringify(JSON.parse(TRICKY))).not.toBe(TRICKY);

    const [tricky] = await emitRaw(eventText("document.updated", TRICKY));
    // The seed's own example payload, at the seed's example time.
    const seedData = String.raw`{"id": "d1a2b3c4-5678-90ab-cdef-1234567890ab", "title": "Updated Document", "updated_at": "2026-03-28T12:00:00Z"}`;
    const [seedExample] = await emitRaw(eventText("document.updated", seedData, `, "timestamp": "2026-03-28T12:00:00Z"`));
    // A batch of other shapes: scalars, null, escapes, surrogate pairs, nesting, integer-like keys.
    const others = [
      String.raw`"just a string with \"quotes\", a \\ backslash, a \/ slash and \ud83d\ude00"`,
      "null",
      "0.10",
      "true",
      String.raw`[1, "two", {"3": 4, "2": [5.50, -1E-2]}, [], {}]`,
      String.raw`{"z": {"y": {"x": {"w": [{"v": 1.000001e+21}]}}}, "10": "ten", "9": "nine", "\u0041": "\u00e9\u0301"}`,
      String.raw`{"control": "tab\tnew\nline\u0000nul", "lone": "\ud800", "ls": "\u2028\u2029"}`,
    ];
    const batch = await emitRaw(
      `{"events": [${others.map((d) => eventText("document.updated", d)).join(", ")}]}`,
    );
    const events = [tricky, seedExample, ...batch];
    expect(events.every((e) => e.deliveries === 1)).toBe(true);

    await receiver.waitFor(events.length, 30_000);
    for (const e of events) expect((await settledDelivery(e.id)).status).toBe("delivered");
    expect(checks).toHaveLength(events.length);
    expect(checks.filter((c) => !c.verified)).toEqual([]);

    // Each body is the envelope of its event, with the data as sent (parsed).
    const byId = new Map(checks.map((c) => [JSON.parse(c.req.body).id, c.req]));
    const rawData = [TRICKY, seedData, ...others];
    events.forEach((e, i) => {
      const sent = byId.get(e.id)!.body;
      const { created_at } = JSON.parse(sent);
      expect(created_at).toBe(new Date(Date.parse(created_at)).toISOString());
      expect(sent).toBe(JSON.stringify({ id: e.id, type: "document.updated", created_at, data: JSON.parse(rawData[i]) }));
    });
    expect(JSON.parse(byId.get(seedExample.id)!.body).created_at).toBe("2026-03-28T12:00:00.000Z");

    // Had the data been signed as the bytes it arrived as, the seed's check would refuse it.
    const req = byId.get(tricky.id)!;
    const { t } = sigParts(req.headers["x-clarife-signature"]);
    const envelope = JSON.parse(req.body);
    const naiveBody = `{"id":"${envelope.id}","type":"document.updated","created_at":"${envelope.created_at}","data":${TRICKY}}`;
    const naiveSig = `t=${t},v1=${createHmac("sha256", sub.secret).update(naiveBody).digest("hex")}`;
    expect(verifyWebhookSignature(JSON.parse(naiveBody), naiveSig, sub.secret)).toBe(false);

    // The test button's event passes the seed's check too.
    const test = await service.api("POST", `/v1/subscriptions/${sub.id}/test`, { token: account.key });
    expect(test.status, test.text).toBe(200);
    expect(test.json).toMatchObject({ success: true, status_code: 200, response_body: '{"verified":true}' });
    const last = checks[checks.length - 1];
    expect(last.verified).toBe(true);
    expect(JSON.parse(last.req.body)).toMatchObject({ id: test.json.event_id, type: "document.updated" });
  }, 60_000);

  describe("refuses what it should", () => {
    let secret: string;
    let req: ReceivedRequest;
    let payload: any;
    let header: string;

    beforeAll(async () => {
      const { receiver, checks, subscribe } = await clarifeReceiver();
      ({ secret } = await subscribe(["document.created"]));
      const [event] = await emitRaw(eventText("document.created", TRICKY.replace("{", String.raw`{"title": "Q3 plan", `)));
      [req] = await receiver.waitFor(1);
      expect(checks[0].verified).toBe(true);
      expect((await settledDelivery(event.id)).status).toBe("delivered");
      header = req.headers["x-clarife-signature"];
      payload = JSON.parse(req.body);
    });

    it("a tampered body: one character of the parsed data changed", () => {
      expect(verifyWebhookSignature(payload, header, secret)).toBe(true);
      const title = structuredClone(payload);
      title.data.title = "Q3 plam";
      expect(verifyWebhookSignature(title, header, secret)).toBe(false);
      const accent = structuredClone(payload);
      accent.data.c = "è";
      expect(verifyWebhookSignature(accent, header, secret)).toBe(false);
      const number = structuredClone(payload);
      number.data.b = 1001;
      expect(verifyWebhookSignature(number, header, secret)).toBe(false);
    });

    it("a delivery checked 6 minutes after it was signed (the receiver's clock faked)", () => {
      const { t } = sigParts(header);
      const spy = vi.spyOn(Date, "now");
      try {
        spy.mockReturnValue(t * 1000 + 6 * 60_000);
        expect(verifyWebhookSignature(payload, header, secret)).toBe(false);
        // Within the 5 minutes it still verifies: the age is what refused it.
        spy.mockReturnValue(t * 1000 + 4 * 60_000);
        expect(verifyWebhookSignature(payload, header, secret)).toBe(true);
      } finally {
        spy.mockRestore();
      }
      expect(vi.isMockFunction(Date.now)).toBe(false);
      expect(verifyWebhookSignature(payload, header, secret)).toBe(true);
    });

    it("the wrong secret", async () => {
      const other = await service.api("POST", "/v1/subscriptions", {
        token: account.key,
        body: { url: "http://127.0.0.1:9/unused", event_types: ["share.deleted"], format: "clarife" },
      });
      expect(other.status, other.text).toBe(201);
      expect(other.json.secret).not.toBe(secret);
      expect(verifyWebhookSignature(payload, header, other.json.secret)).toBe(false);
      expect(verifyWebhookSignature(payload, header, secret.slice(0, -1))).toBe(false);
      expect(verifyWebhookSignature(payload, header, secret + " ")).toBe(false);
      expect(verifyWebhookSignature(payload, header, secret)).toBe(true);
    });

    it("but not a replay with a fresh t: t is not under the signature (README, 'clarife receivers')", () => {
      const { t, v1 } = sigParts(header);
      const spy = vi.spyOn(Date, "now");
      try {
        spy.mockReturnValue(t * 1000 + 60 * 60_000);
        expect(verifyWebhookSignature(payload, header, secret)).toBe(false);
        const replayed = `t=${t + 60 * 60},v1=${v1}`;
        expect(verifyWebhookSignature(payload, replayed, secret)).toBe(true);
      } finally {
        spy.mockRestore();
      }
    });
  });
});

describe("the retry table and the timeout with format clarife", () => {
  it("a receiver that always answers 500 gets exactly 4 signed attempts, then the delivery is failed", async () => {
    const { receiver, checks, subscribe } = await clarifeReceiver(() => 500);
    const sub = await subscribe(["project.created"]);
    const [event] = await emitRaw(eventText("project.created", '{"id": "p1"}'));
    const detail = await settledDelivery(event.id);
    expect(detail.status).toBe("failed");
    expect(detail.attempts_count).toBe(4);
    expect(detail.next_attempt_at).toBeNull();
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code])).toEqual([
      [1, "http_status", 500],
      [2, "http_status", 500],
      [3, "http_status", 500],
      [4, "http_status", 500],
    ]);
    // Nothing comes after the fourth.
    await new Promise((r) => setTimeout(r, 2500));
    expect(receiver.requests).toHaveLength(4);
    // Every attempt passed the seed's check (a refused one would have answered 401, not 500).
    expect(checks.map((c) => c.verified)).toEqual([true, true, true, true]);
    expect(new Set(checks.map((c) => c.req.body)).size).toBe(1);
    // Signed again at each attempt: the last t is later than the first.
    const ts = checks.map((c) => sigParts(c.req.headers["x-clarife-signature"]).t);
    expect(ts[3]).toBeGreaterThan(ts[0]);
    const sub2 = await service.api("GET", `/v1/subscriptions/${sub.id}`, { token: account.key });
    expect(sub2.json).toMatchObject({ active: true, consecutive_failures: 4 });
  }, 40_000);

  // 2 s either side of the timeout: a loaded machine may deliver an answer late, never early.
  it("the default 10 s timeout: an answer after 12 s is a timeout (then retried), one after 8 s is a success", async () => {
    const late = await clarifeReceiver(() => 200, (n) => (n === 1 ? 12_000 : 0));
    const slow = await clarifeReceiver(() => 200, () => 8_000);
    await late.subscribe(["folder.created"]);
    await slow.subscribe(["folder.updated"]);
    const [lateEvent] = await emitRaw(eventText("folder.created", '{"id": "f1"}'));
    const [slowEvent] = await emitRaw(eventText("folder.updated", '{"id": "f2"}'));
    const [lateDetail, slowDetail] = await Promise.all([settledDelivery(lateEvent.id), settledDelivery(slowEvent.id)]);

    expect(lateDetail.status).toBe("delivered");
    expect(lateDetail.attempts).toHaveLength(2);
    expect(lateDetail.attempts[0]).toMatchObject({
      number: 1,
      outcome: "timeout",
      status_code: null,
      error: `${new URL(late.receiver.url).host} did not answer within 10000 ms`,
    });
    expect(lateDetail.attempts[0].duration_ms).toBeGreaterThanOrEqual(9_900);
    expect(lateDetail.attempts[0].duration_ms).toBeLessThan(12_000);
    expect(lateDetail.attempts[1]).toMatchObject({ number: 2, outcome: "success", status_code: 200 });
    expect(late.checks.map((c) => c.verified)).toEqual([true, true]);

    expect(slowDetail.status).toBe("delivered");
    expect(slowDetail.attempts).toHaveLength(1);
    expect(slowDetail.attempts[0]).toMatchObject({ number: 1, outcome: "success", status_code: 200 });
    expect(slowDetail.attempts[0].duration_ms).toBeGreaterThanOrEqual(7_900);
    expect(slow.checks.map((c) => c.verified)).toEqual([true]);
  }, 60_000);
});
