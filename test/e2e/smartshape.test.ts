/// <reference types="node" />
/**
 * SmartShape's users end to end (README "SmartShape users"): the seed's curl
 * calls run with curl itself against the real service (wrangler dev), and a receiver written
 * like the seed's Express one (bcrypt.compareSync(secret, x-smartshape-token), then
 * `res.status(200).json({ success: true })`, else 400). Then the seed's jq pipeline reads a
 * received payload where the seed says its fields are.
 */
import { compareSync } from "bcryptjs";
import { spawn, spawnSync } from "node:child_process";
import type { ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { curl } from "./curl";
import { type ReceivedRequest, startReceiver, type Receiver } from "./receiver";
import { type Service, startService } from "./service";

const HAS_JQ = spawnSync("jq", ["--version"]).status === 0;

let service: Service;
let account: { id: string; name: string; key: string };
const receivers: Receiver[] = [];

beforeAll(async () => {
  service = await startService({ RETRY_SCHEDULE: "1,1,1", DELIVERY_TIMEOUT_MS: "3000" });
  const res = await service.api("POST", "/v1/accounts", {
    body: { name: "smartshape-e2e", email: "test@smartshape.io", plan: "business" },
  });
  expect(res.status, res.text).toBe(201);
  account = { id: res.json.id, name: res.json.name, key: res.json.api_key.key };
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  await service?.stop();
});


/** The seed's create call: `curl -X PUT .../webhook/ --header "Authorization: Bearer ..." --data '{...}'` without the stray line. */
const createWithCurl = (url: string, secretToken: string, event = "attribute_updated") =>
  curl([
    "-X", "PUT", `${service.url}/webhook/`,
    "--header", `Authorization: Bearer ${account.key}`,
    "--data", `{
        "event": "${event}",
        "url": "${url}",
        "secretToken": "${secretToken}"
    }`,
  ]);

/** Express's `res.status(200).json(...)`: application/json; charset=utf-8. */
function expressJson(res: ServerResponse, status: number, value: unknown) {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8" });
  res.end(JSON.stringify(value));
}

/** The seed's Express receiver, handler for handler. */
function seedReceiverHandler(secret: string) {
  return (req: ReceivedRequest, _n: number, res: ServerResponse) => {
    let body: any;
    try {
      body = JSON.parse(req.body); // bodyParser.json()
    } catch {
      res.statusCode = 400;
      res.end();
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(body, "event") || !compareSync(secret, req.headers["x-smartshape-token"] ?? "")) {
      res.statusCode = 400;
      res.end();
    } else {
      expressJson(res, 200, { success: true });
    }
  };
}

async function receiver(handler: Parameters<typeof startReceiver>[0]) {
  const r = await startReceiver(handler);
  receivers.push(r);
  return r;
}

async function emit(type: string, subject: string, data: unknown, timestamp?: string) {
  const res = await service.api("POST", "/v1/events", { body: { account_id: account.id, type, subject, data, ...(timestamp ? { timestamp } : {}) } });
  expect(res.status, res.text).toBe(202);
  return res.json.data[0] as { id: string; deliveries: number };
}

/** The event's only delivery once it has settled, with its attempts. */
const settled = (eventId: string, timeoutMs?: number) => service.settledDelivery(eventId, account.key, timeoutMs);

/** Runs the seed's jq program over one payload. */
function seedJq(input: string): Promise<string> {
  const program = `
        [
            [.file],
            [.runTimestamp / 1000 | todateiso8601],
            [.data.nodeIdToAttributes | to_entries[] | select(.value | has("mtime") | not) | .key]
        ]
        | combinations
        | join(" ")
    `;
  return new Promise((resolve, reject) => {
    const child = spawn("jq", ["--unbuffered", "-rc", program]);
    let out = "";
    let err = "";
    child.stdout.on("data", (c) => (out += c));
    child.stderr.on("data", (c) => (err += c));
    child.on("error", reject);
    child.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`jq exited ${code}: ${err}`))));
    child.stdin.end(input + "\n");
  });
}

describe("SmartShape's curl calls, run with curl", () => {
  it("creates the seed's hook (PUT, JSON under curl's default Content-Type), lists it (GET) and deletes it (DELETE)", async () => {
    const made = await createWithCurl("https://my.domain.com/path/to/webhook/endpoint", "my-secret-token");
    expect(made.status, made.text).toBe(200);
    expect(made.json).toEqual({
      _id: expect.stringMatching(/^sub_/),
      event: "attribute_updated",
      url: "https://my.domain.com/path/to/webhook/endpoint",
    });
    expect(made.text).not.toContain("my-secret-token");

    const listed = await curl(["-X", "GET", `${service.url}/webhook/`, "--header", `Authorization: Bearer ${account.key}`]);
    expect(listed.status, listed.text).toBe(200);
    expect(listed.json).toEqual([made.json]);

    const deleted = await curl(["-X", "DELETE", `${service.url}/webhook/${made.json._id}`, "--header", `Authorization: Bearer ${account.key}`]);
    expect(deleted.status, deleted.text).toBe(200);
    expect(deleted.json).toEqual(made.json);
    const after = await curl(["-X", "GET", `${service.url}/webhook/`, "--header", `Authorization: Bearer ${account.key}`]);
    expect(after.json).toEqual([]);
  });

  it("the seed's example as printed, stray \"[SECRET_TOKEN]\" line included, is a 400 problem", async () => {
    const res = await curl([
      "-X", "PUT", `${service.url}/webhook/`,
      "--header", `Authorization: Bearer ${account.key}`,
      "--data", `{
        "event": "attribute_updated",
        "url": "https://my.domain.com/path/to/webhook/endpoint",
        "secretToken": "my-secret-token",
        "[SECRET_TOKEN]"
    }`,
    ]);
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ status: 400, detail: expect.stringContaining("line 6 column 5") });
  });

  it("without the Bearer token it is 401", async () => {
    const res = await curl(["-X", "GET", `${service.url}/webhook/`]);
    expect(res.status).toBe(401);
  });
});

describe("SmartShape receivers written like the seed's", () => {
  let payload: string | undefined;

  it("the seed's Express receiver verifies an attribute_updated delivery and answers {success: true}: delivered", async () => {
    const r = await receiver(seedReceiverHandler("my-secret-token"));
    const hook = await createWithCurl(`${r.url}/callback`, "my-secret-token");
    expect(hook.status, hook.text).toBe(200);
    const data = {
      user: { email: "patrick.star@smartshape.io" },
      nodeIdToAttributes: {
        "5b337c601e24e904da827738": { "my attribute": "myValue 42" },
        "5b337c601e24e904da827739": { mtime: "2019-02-22T08:41:46Z" },
      },
    };
    const event = await emit("attribute_updated", "5c6aeed079bf3f432d3c929e", data, "2019-02-22T08:41:46.016Z");
    expect(event.deliveries).toBe(1);
    const detail = await settled(event.id);
    expect(detail.status).toBe("delivered");
    expect(detail.subscription_id).toBe(hook.json._id);
    expect(detail.attempts).toEqual([
      expect.objectContaining({ number: 1, outcome: "success", status_code: 200, response_body: '{"success":true}' }),
    ]);

    expect(r.requests).toHaveLength(1);
    const [req] = r.requests;
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/callback");
    expect(req.headers["content-type"]).toBe("application/json");
    expect(compareSync("my-secret-token", req.headers["x-smartshape-token"])).toBe(true);
    expect(JSON.parse(req.body)).toEqual({
      file: "5c6aeed079bf3f432d3c929e",
      event: "attribute_updated",
      data,
      owner: "test@smartshape.io",
      runTimestamp: 1550824906016,
      uuid: event.id.replace(/^evt_/, ""),
    });
    payload = req.body;
  });

  it.skipIf(!HAS_JQ)("the seed's jq pipeline finds .file, .runTimestamp and .data.nodeIdToAttributes in a received payload", async () => {
    expect(payload, "the delivery test ran").toBeDefined();
    const out = await seedJq(payload!);
    // One line per object without an mtime: file id, ISO date, object id (what xargs passes as $0 $1 $2).
    expect(out).toBe("5c6aeed079bf3f432d3c929e 2019-02-22T08:41:46Z 5b337c601e24e904da827738\n");
  });

  it("a receiver answering 200 without the success body is retried, and the delivery ends failed", async () => {
    // Express's res.sendStatus(200): text/plain "OK".
    const r = await receiver((_req, _n, res) => {
      res.writeHead(200, { "content-type": "text/plain; charset=utf-8" });
      res.end("OK");
    });
    const hook = await createWithCurl(`${r.url}/callback`, "my-secret-token", "file_uploaded");
    expect(hook.status, hook.text).toBe(200);
    const event = await emit("file_uploaded", "5c6fb52c194afb281976f5e4", { _id: "5c6fb52c194afb281976f5e4", size: 6581919 });
    const detail = await settled(event.id);
    expect(detail.status).toBe("failed");
    expect(detail.attempts_count).toBe(4);
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code, a.response_body])).toEqual(
      [1, 2, 3, 4].map((n) => [n, "http_status", 200, "OK"]),
    );
    expect(r.requests).toHaveLength(4);
    // It was retried on schedule (1 s apart), not all at once: on the service's own clock, from
    // the end of the first attempt to the start of the second (a busy machine only lengthens it).
    const [a1, a2] = detail.attempts;
    expect(Date.parse(a2.started_at) - (Date.parse(a1.started_at) + a1.duration_ms)).toBeGreaterThanOrEqual(800);
  });

  it("a receiver with the wrong secret answers 400; retried, then failed", async () => {
    const r = await receiver(seedReceiverHandler("actual-webhook-secret-token"));
    const hook = await createWithCurl(`${r.url}/callback`, "my-secret-token", "annotation_created");
    expect(hook.status, hook.text).toBe(200);
    const event = await emit("annotation_created", "5c6aeed079bf3f432d3c929e", { _id: "5c6fbb654fb090280ecc926b", name: "test1" });
    const detail = await settled(event.id);
    expect(detail.status).toBe("failed");
    expect(detail.attempts_count).toBe(4);
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code])).toEqual(
      [1, 2, 3, 4].map((n) => [n, "http_status", 400]),
    );
    expect(r.requests).toHaveLength(4);
    // The token is the hook's: the right secret verifies it, the receiver's does not.
    for (const q of r.requests) {
      expect(compareSync("my-secret-token", q.headers["x-smartshape-token"])).toBe(true);
      expect(compareSync("actual-webhook-secret-token", q.headers["x-smartshape-token"])).toBe(false);
    }
  });
});
