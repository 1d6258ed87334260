/**
 * `hookline/verify` inside workerd (this suite runs in the Workers runtime): a receiver
 * Worker can use it as is. Signatures made here the way each format signs; the real
 * deliveries are checked in test/e2e/verify.test.ts.
 */
import { hash } from "bcryptjs";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { verify, verifyClarife, WebhookVerificationError } from "../../src/verify/index";

const encoder = new TextEncoder();
async function hexHmac(secret: string, message: string) {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  return [...mac].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const rejection = (p: Promise<unknown>) =>
  p.then(
    () => "passed",
    (e) => (e instanceof WebhookVerificationError ? e.code : String(e)),
  );

describe("verifiers in the Workers runtime", () => {
  it("standard, through the standardwebhooks package", async () => {
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const body = '{"type":"document.updated","timestamp":"2026-01-01T00:00:00.000Z","data":{"id":"doc_1"}}';
    const now = new Date();
    const headers = new Headers({
      "webhook-id": "dlv_1",
      "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign("dlv_1", now, body),
    });
    expect(await verify("standard", body, headers, secret)).toMatchObject({ type: "document.updated", data: { id: "doc_1" } });
    expect(await rejection(verify("standard", body.replace("doc_1", "doc_2"), headers, secret))).toBe("invalid_signature");
  });

  it("clara and clarife, with WebCrypto's constant-time HMAC check", async () => {
    const body = '{"_id":"job_1","status":"ok"}';
    const clara = { "X-Clara-Signature": `sha256=${await hexHmac("s3cret-key", body)}` };
    expect(await verify("clara", body, clara, "s3cret-key")).toEqual({ _id: "job_1", status: "ok" });
    expect(await rejection(verify("clara", body, clara, "other-key"))).toBe("invalid_signature");

    const envelope = '{"id":"evt_1","type":"user.created","created_at":"2026-01-01T00:00:00.000Z","data":{"n":1}}';
    const t = Math.floor(Date.now() / 1000);
    const clarife = { "x-clarife-signature": `t=${t},v1=${await hexHmac("whsec_abc", envelope)}` };
    expect(await verify("clarife", envelope, clarife, "whsec_abc")).toMatchObject({ id: "evt_1", data: { n: 1 } });
    expect(await rejection(verifyClarife(envelope, clarife, "whsec_abc", { now: (t + 301) * 1000 }))).toBe("timestamp_out_of_tolerance");
  });

  it("smartshape, with bcryptjs", async () => {
    const body = '{"file":"f","event":"attribute_updated","data":{},"owner":"o","runTimestamp":1,"uuid":"u"}';
    const headers = { "x-smartshape-token": await hash("my-secret-token", 4) };
    expect(await verify("smartshape", body, headers, "my-secret-token")).toMatchObject({ event: "attribute_updated" });
    expect(await rejection(verify("smartshape", body, headers, "wrong-token"))).toBe("invalid_signature");
  });
});
