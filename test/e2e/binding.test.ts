/// <reference types="node" />
/**
 * The service binding end to end: a second Worker (test/e2e/emitter) emits to Hookline
 * as a platform's own Workers do, through `[[services]] HOOKLINE -> "hookline"`: RPC
 * emit(event) and emitBatch(events) on the default WorkerEntrypoint, and fetch() to the
 * REST API. Two `wrangler dev` processes, both supervised by the launcher: the real
 * Hookline (startService) and the emitter (startWorker). They find each other through
 * wrangler's local dev registry, one of this run only (WRANGLER_REGISTRY_PATH), and the
 * RPC calls cross between the two workerd processes. Every delivery reaches a real
 * receiver on 127.0.0.1 that verifies it with the standardwebhooks package.
 */
import { fileURLToPath } from "node:url";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DevWorker, startWorker } from "../../scripts/launcher.mjs";
import { answer, type Handler, type Receiver, startReceiver } from "./receiver";
import { type Service, startService } from "./service";

const EMITTER_CONFIG = fileURLToPath(new URL("./emitter/wrangler.toml", import.meta.url));

let service: Service;
let emitter: DevWorker;
let account: { id: string; key: string };
const receivers: Receiver[] = [];

interface EmitterResponse {
  status: number;
  json: any;
  text: string;
}

/** POST to the emitter Worker: /emit, /emit-batch or /fetch, with a JSON body. */
async function callEmitter(path: string, body: unknown, headers: Record<string, string> = {}, base = emitter.url): Promise<EmitterResponse> {
  const res = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: res.status, json, text };
}

beforeAll(async () => {
  service = await startService();
  emitter = await startWorker({
    config: EMITTER_CONFIG,
    devRegistry: service.devRegistry,
    quiet: !process.env.E2E_VERBOSE,
    // Ready once a call goes all the way through the binding: Hookline refuses a wrong token.
    ready: async (url) => {
      const res = await callEmitter("/fetch", {}, { authorization: "Bearer not-the-token" }, url);
      return res.status === 401 || `${res.status} ${res.text.slice(0, 200)}`;
    },
  });
  const res = await service.api("POST", "/v1/accounts", { body: { name: "e2e-binding" } });
  expect(res.status, res.text).toBe(201);
  account = { id: res.json.id, key: res.json.api_key.key };
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  // The emitter first: it holds a binding to Hookline.
  await emitter?.stop();
  await service?.stop();
});

/**
 * A receiver that verifies every delivery with the subscription's secret, subscribed to
 * its own event types so that no test sees another's deliveries.
 */
async function verifyingReceiver(eventTypes: string[]) {
  const verified: any[] = [];
  let secret = "";
  const handler: Handler = (req, _n, res) => {
    verified.push(new Webhook(secret).verify(req.body, req.headers)); // throws (500) on a bad signature
    answer(res, 200);
  };
  const receiver = await startReceiver(handler);
  receivers.push(receiver);
  const sub = await service.api("POST", "/v1/subscriptions", {
    token: account.key,
    body: { url: `${receiver.url}/hooks`, event_types: eventTypes },
  });
  expect(sub.status, sub.text).toBe(201);
  secret = sub.json.secret;
  return { receiver, verified, subscriptionId: sub.json.id as string };
}

/** The deliveries Hookline recorded for an event, as its account sees them. */
async function deliveriesOf(eventId: string) {
  const res = await service.api("GET", `/v1/events/${eventId}`, { token: account.key });
  expect(res.status, res.text).toBe(200);
  return res.json.deliveries as { id: string; subscription_id: string; status: string }[];
}

describe("a Worker bound to Hookline", () => {
  it("emits one event through RPC emit(), delivered signed to the subscriber", async () => {
    const { receiver, verified, subscriptionId } = await verifyingReceiver(["document.updated"]);
    const res = await callEmitter("/emit", {
      account_id: account.id,
      type: "document.updated",
      subject: "doc_rpc",
      data: { id: "doc_rpc", title: "Through the binding" },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toEqual({ data: [{ id: expect.stringMatching(/^evt_/), deliveries: 1 }] });

    const [req] = await receiver.waitFor(1);
    expect(req.method).toBe("POST");
    expect(req.path).toBe("/hooks");
    expect(verified).toEqual([
      expect.objectContaining({ type: "document.updated", subject: "doc_rpc", data: { id: "doc_rpc", title: "Through the binding" } }),
    ]);
    const [delivery] = await deliveriesOf(res.json.data[0].id);
    expect(delivery.subscription_id).toBe(subscriptionId);
    expect(req.headers["webhook-id"]).toBe(delivery.id);
  });

  it("emits a batch of two through RPC emitBatch(), each delivered signed", async () => {
    const { receiver, verified } = await verifyingReceiver(["project.created", "project.updated"]);
    const res = await callEmitter("/emit-batch", [
      { account_id: account.id, type: "project.created", subject: "prj_1", data: { id: "prj_1", n: 1 } },
      { account_id: account.id, type: "project.updated", subject: "prj_1", data: { id: "prj_1", n: 2 } },
    ]);
    expect(res.status, res.text).toBe(200);
    expect(res.json.data).toEqual([
      { id: expect.stringMatching(/^evt_/), deliveries: 1 },
      { id: expect.stringMatching(/^evt_/), deliveries: 1 },
    ]);
    expect(res.json.data[0].id).not.toBe(res.json.data[1].id);

    const requests = await receiver.waitFor(2);
    expect(new Set(requests.map((r) => r.headers["webhook-id"])).size).toBe(2);
    expect(verified.map((v) => [v.type, v.data.n]).sort()).toEqual([
      ["project.created", 1],
      ["project.updated", 2],
    ]);
  });

  it("gets a refused RPC call as an error that carries the 422 and the unknown event type", async () => {
    const single = await callEmitter("/emit", { account_id: account.id, type: "invoice.paid", data: {} });
    expect(single.status, single.text).toBe(400);
    expect(single.json.error).toContain("422");
    expect(single.json.error).toContain("invoice.paid");

    // A batch is refused as a whole, naming the event at fault.
    const batch = await callEmitter("/emit-batch", [
      { account_id: account.id, type: "document.created", data: {} },
      { account_id: account.id, type: "invoice.refunded", data: {} },
    ]);
    expect(batch.status, batch.text).toBe(400);
    expect(batch.json.error).toContain("422");
    expect(batch.json.error).toContain("events[1].type");
    expect(batch.json.error).toContain("invoice.refunded");

    // Nothing was stored, not even the batch's valid event.
    for (const type of ["invoice.paid", "invoice.refunded", "document.created"]) {
      const stored = await service.api("GET", `/v1/events?type=${type}`, { token: account.key });
      expect(stored.status, stored.text).toBe(200);
      expect(stored.json.data, type).toEqual([]);
    }
  });

  it("reaches the REST API through fetch(): 202 with the operator token, 401 with a wrong one", async () => {
    const { receiver, verified } = await verifyingReceiver(["folder.created"]);
    const event = { account_id: account.id, type: "folder.created", subject: "fld_1", data: { id: "fld_1" } };

    const refused = await callEmitter("/fetch", event, { authorization: "Bearer wrong-token" });
    expect(refused.status, refused.text).toBe(401);
    expect(refused.json).toMatchObject({ status: 401, title: "Unauthorized" });

    const accepted = await callEmitter("/fetch", event, { authorization: `Bearer ${service.adminToken}` });
    expect(accepted.status, accepted.text).toBe(202);
    expect(accepted.json).toEqual({ data: [{ id: expect.stringMatching(/^evt_/), deliveries: 1 }] });

    // Only the accepted call emitted: one delivery, signed.
    await receiver.waitFor(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(receiver.requests).toHaveLength(1);
    expect(verified).toEqual([expect.objectContaining({ type: "folder.created", subject: "fld_1", data: { id: "fld_1" } })]);
  });
});
