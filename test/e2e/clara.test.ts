/// <reference types="node" />
/**
 * Clara.io's users end to end (README "Clara.io users"): the seed's two
 * curl examples run with curl itself against the real service (wrangler dev), only the host
 * and the key changed; then real receivers on 127.0.0.1 that verify X-Clara-Signature with
 * the seed's own Node expression, and with its Ruby snippet when ruby is installed.
 * That the first example's plain-http url is accepted with ALLOW_INSECURE_TARGETS off is
 * shown in test/worker/clara.test.ts (those tests bind it off).
 */
import { spawnSync } from "node:child_process";
import crypto from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curl } from "./curl";
import { type ReceivedRequest, startReceiver, type Receiver } from "./receiver";
import { type Service, startService } from "./service";

const HAS_RUBY = spawnSync("ruby", ["--version"]).status === 0;

let service: Service;
let account: { id: string; name: string; key: string };
const receivers: Receiver[] = [];
const scratch = mkdtempSync(join(tmpdir(), "hookline-clara-"));

beforeAll(async () => {
  service = await startService({ RETRY_SCHEDULE: "1,1,1", DELIVERY_TIMEOUT_MS: "3000" });
  // The seed's curl examples log in as `yourname`.
  const res = await service.api("POST", "/v1/accounts", { body: { name: "yourname", plan: "business" } });
  expect(res.status, res.text).toBe(201);
  account = { id: res.json.id, name: res.json.name, key: res.json.api_key.key };
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await service?.stop();
  rmSync(scratch, { recursive: true, force: true });
});


/** The seed's X-Clara-Signature check, as its Node expression computes it (compared in constant time). */
function claraSignatureMatches(secret: string, body: string, header: string | undefined) {
  const signature = "sha256=" + crypto.createHmac("sha256", secret).update(body).digest("hex");
  const given = Buffer.from(header ?? "");
  return given.length === Buffer.byteLength(signature) && crypto.timingSafeEqual(Buffer.from(signature), given);
}

/** A Clara receiver: 200 when the signature matches, else 500 "Signatures didn't match!" as the seed's Ruby halts. */
async function claraReceiver(secret: string) {
  const r = await startReceiver((req, _n, res) => {
    if (!claraSignatureMatches(secret, req.body, req.headers["x-clara-signature"])) {
      res.writeHead(500, { "content-type": "text/plain" });
      res.end("Signatures didn't match!");
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" });
    res.end("ok");
  });
  receivers.push(r);
  return r;
}

const job = (type: string, status: string, sceneId: string) => ({
  _id: "5a1b2c3d4e5f6a7b8c9d0e1f",
  owner: "yourname",
  sceneId,
  status,
  type,
  createdAt: "2026-03-28T12:00:00.000Z",
  files: [{ name: "scène-ü.fbx", size: 6581919 }],
});

async function emit(type: string, subject: string, data: unknown) {
  const res = await service.api("POST", "/v1/events", { body: { account_id: account.id, type, subject, data } });
  expect(res.status, res.text).toBe(202);
  return res.json.data[0] as { id: string; deliveries: number };
}

/** The event's only delivery once it has settled, with its attempts. */
const settled = (eventId: string, timeoutMs?: number) => service.settledDelivery(eventId, account.key, timeoutMs);

describe("Clara.io's curl examples, run with curl", () => {
  const created: string[] = [];

  it("content-type application/x-www-form-urlencoded: the first example as written", async () => {
    const res = await curl([
      `${service.url}/api/webhooks`,
      "-X", "POST", "-u", `yourname:${account.key}`,
      "-d", "url=http://foo.example.com/hook",
      "-d", "statuses[]=ok",
      "-d", "statuses[]=failed",
      "-d", "jobTypes[]=export",
      "-d", "jobTypes[]=import",
      "-d", "active=true",
    ]);
    expect(res.status, res.text).toBe(200);
    expect(Object.keys(res.json).sort()).toEqual(["_id", "active", "jobTypes", "scenes", "statuses", "url"]);
    expect(res.json.url).toBe("http://foo.example.com/hook");
    expect([...res.json.jobTypes].sort()).toEqual(["export", "import"]);
    expect([...res.json.statuses].sort()).toEqual(["failed", "ok"]);
    expect(res.json.scenes).toEqual(["all"]);
    expect(res.json.active).toBe(true);
    created.push(res.json._id);
  });

  it("content-type application/json: the second example as written", async () => {
    const res = await curl([
      `${service.url}/api/webhooks`,
      "-X", "POST", "-u", `yourname:${account.key}`,
      "-H", "Content-Type: application/json",
      "-d", `{
  "url": "https://foo.example.com/hook",
  "statuses": ["ok", "failed"],
  "jobTypes": ["export", "import"],
  "active": true
}`,
    ]);
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ url: "https://foo.example.com/hook", scenes: ["all"], active: true });
    expect([...res.json.jobTypes].sort()).toEqual(["export", "import"]);
    created.push(res.json._id);
  });

  it("the wrong account name in -u is 401", async () => {
    const res = await curl([
      `${service.url}/api/webhooks`,
      "-X", "POST", "-u", `someoneelse:${account.key}`,
      "-d", "url=http://foo.example.com/hook", "-d", "statuses[]=ok", "-d", "jobTypes[]=export",
    ]);
    expect(res.status).toBe(401);
    expect(res.json).toMatchObject({ status: 401 });
  });

  it("PUT modifies a hook (Modifying a Webhook) and GET lists both (Listing Webhooks)", async () => {
    expect(created).toHaveLength(2);
    const [first, second] = created;
    const put = await curl([
      `${service.url}/api/webhooks/${first}`,
      "-X", "PUT", "-u", `yourname:${account.key}`,
      "-d", "active=false", "-d", "statuses[]=failed", "-d", "scenes[]=scene-1",
    ]);
    expect(put.status, put.text).toBe(200);
    expect(put.json).toMatchObject({ _id: first, url: "http://foo.example.com/hook", statuses: ["failed"], scenes: ["scene-1"], active: false });
    expect([...put.json.jobTypes].sort()).toEqual(["export", "import"]);

    const list = await curl([`${service.url}/api/webhooks`, "-u", `yourname:${account.key}`]);
    expect(list.status, list.text).toBe(200);
    expect(Array.isArray(list.json)).toBe(true);
    expect(list.json.map((h: any) => h._id)).toEqual([first, second]);
    expect(list.json[0]).toEqual(put.json);

    // Keep these two out of the deliveries below: they point at foo.example.com.
    for (const id of created) {
      const del = await curl([`${service.url}/api/webhooks/${id}`, "-X", "DELETE", "-u", `yourname:${account.key}`]);
      expect(del.status, del.text).toBe(200);
      expect(del.json._id).toBe(id);
    }
    expect((await curl([`${service.url}/api/webhooks`, "-u", `yourname:${account.key}`])).json).toEqual([]);
  });
});

describe("Clara.io receivers verify X-Clara-Signature as the seed says", () => {
  let accepted: ReceivedRequest | undefined;
  let acceptedSecret = "";

  it("a receiver with the hook's secret accepts the job, signed over the exact body", async () => {
    acceptedSecret = "clara-hook-secret-" + crypto.randomUUID();
    const r = await claraReceiver(acceptedSecret);
    const hook = await service.api("POST", "/api/webhooks", {
      basic: ["yourname", account.key],
      body: { url: `${r.url}/hook`, jobTypes: ["renderFrame"], statuses: ["ok"], scenes: ["scene-good"], secret: acceptedSecret },
    });
    expect(hook.status, hook.text).toBe(200);
    expect(hook.text).not.toContain(acceptedSecret);

    const record = job("renderFrame", "ok", "scene-good");
    const event = await emit("renderFrame.ok", "scene-good", record);
    expect(event.deliveries).toBe(1);
    const [req] = await r.waitFor(1);
    accepted = req;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/hook");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(req.body).toBe(JSON.stringify(record));
    expect(claraSignatureMatches(acceptedSecret, req.body, req.headers["x-clara-signature"])).toBe(true);

    const detail = await settled(event.id);
    expect(detail.status).toBe("delivered");
    expect(detail.subscription_id).toBe(hook.json._id);
    expect(req.headers["x-clara-delivery"]).toBe(detail.id);
    expect(detail.attempts).toEqual([expect.objectContaining({ number: 1, outcome: "success", status_code: 200, response_body: "ok" })]);
    expect(r.requests).toHaveLength(1);
  });

  it("a receiver with the wrong secret answers 500; the delivery is retried and ends failed after 4 attempts", async () => {
    const r = await claraReceiver("not-the-hook-secret");
    const hook = await service.api("POST", "/api/webhooks", {
      basic: ["yourname", account.key],
      body: { url: `${r.url}/hook`, jobTypes: ["renderAnimation"], statuses: ["failed"], scenes: ["scene-bad"], secret: "the-real-hook-secret" },
    });
    expect(hook.status, hook.text).toBe(200);
    const event = await emit("renderAnimation.failed", "scene-bad", job("renderAnimation", "failed", "scene-bad"));
    expect(event.deliveries).toBe(1);
    const detail = await settled(event.id);
    expect(detail.status).toBe("failed");
    expect(detail.attempts_count).toBe(4);
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code, a.response_body])).toEqual(
      [1, 2, 3, 4].map((n) => [n, "http_status", 500, "Signatures didn't match!"]),
    );
    expect(r.requests).toHaveLength(4);
    // Same delivery id and a signature by the hook's real secret on every attempt.
    expect(new Set(r.requests.map((q) => q.headers["x-clara-delivery"]))).toEqual(new Set([detail.id]));
    for (const q of r.requests) expect(claraSignatureMatches("the-real-hook-secret", q.body, q.headers["x-clara-signature"])).toBe(true);
  });

  // Skipped only outside CI: .ci/run installs Debian's ruby, so there a missing ruby fails this test.
  it.skipIf(!HAS_RUBY && !process.env.CI)("the seed's Ruby verify_signature accepts the delivery and halts 500 on the wrong secret (skipped: ruby is not installed)", async () => {
    expect(accepted, "the first receiver test ran").toBeDefined();
    const script = join(scratch, "verify.rb");
    const body = join(scratch, "body.json");
    writeFileSync(body, accepted!.body);
    // The seed's snippet, with Sinatra's halt and request.env stood in for: exit 0 = accepted, exit 5 = halt 500.
    writeFileSync(
      script,
      `require 'openssl'
begin
  require 'rack/utils'
  def secure_compare(a, b) Rack::Utils.secure_compare(a, b) end
rescue LoadError
  def secure_compare(a, b)
    return false unless a.bytesize == b.bytesize
    a.bytes.zip(b.bytes).reduce(0) { |acc, (x, y)| acc | (x ^ y) } == 0
  end
end
def halt(status, message) $stderr.puts(message); exit(status == 500 ? 5 : 1) end
request_env = { 'HTTP_X_CLARA_SIGNATURE' => ENV['HTTP_X_CLARA_SIGNATURE'] }
def verify_signature(payload_body, request_env)
  signature = 'sha256=' + OpenSSL::HMAC.hexdigest(OpenSSL::Digest.new('sha256'), ENV['SECRET_TOKEN'], payload_body)
  return halt 500, "Signatures didn't match!" unless secure_compare(signature, request_env['HTTP_X_CLARA_SIGNATURE'])
end
verify_signature(File.binread(ARGV[0]), request_env)
exit 0
`,
    );
    const env = { PATH: process.env.PATH, HTTP_X_CLARA_SIGNATURE: accepted!.headers["x-clara-signature"] };
    expect(spawnSync("ruby", [script, body], { env: { ...env, SECRET_TOKEN: acceptedSecret } }).status).toBe(0);
    expect(spawnSync("ruby", [script, body], { env: { ...env, SECRET_TOKEN: "wrong-secret" } }).status).toBe(5);
  });
});
