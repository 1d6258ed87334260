/// <reference types="node" />
/**
 * Throttling and the receiver's signals end to end: the real service (wrangler dev: workerd with
 * D1, Queues and the subscription's Durable Object) and real receivers on 127.0.0.1 that verify
 * every delivery with the standardwebhooks package. Times are taken where they happen: receipts
 * at the receiver, attempts from the service's own log.
 */
import { createServer, type Server } from "node:net";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { answer, type Receiver, startReceiver } from "./receiver";
import { type Service, startService } from "./service";

let service: Service;
const receivers: Receiver[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  // A short schedule (1 s between attempts), so that a Retry-After of 3 s is what sets the wait.
  service = await startService({ RETRY_SCHEDULE: "1,1,1" });
});

afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
  for (const s of servers) s.close();
  await service?.stop();
});

let accounts = 0;
async function newAccount() {
  const res = await service.api("POST", "/v1/accounts", { body: { name: `e2e-signals-${accounts++}`, plan: "business" } });
  expect(res.status, res.text).toBe(201);
  return { id: res.json.id as string, key: res.json.api_key.key as string };
}

/** A receiver that checks every request's signature with `secret()` before answering as `handler` says. */
async function verifyingReceiver(secret: () => string, handler: Parameters<typeof startReceiver>[0]) {
  const r = await startReceiver((req, n, res) => {
    new Webhook(secret()).verify(req.body, req.headers);
    return handler(req, n, res);
  });
  receivers.push(r);
  return r;
}

async function subscribe(key: string, body: Record<string, unknown>) {
  const res = await service.api("POST", "/v1/subscriptions", { token: key, body: { event_types: ["document.*"], ...body } });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; secret: string; throttle_rate: number | null };
}

async function emit(accountId: string, events: number, offset = 0) {
  const res = await service.api("POST", "/v1/events", {
    body: { events: Array.from({ length: events }, (_, i) => ({ account_id: accountId, type: "document.updated", data: { n: offset + i } })) },
  });
  expect(res.status, res.text).toBe(202);
  return res.json.data as { id: string; deliveries: number }[];
}

/** Every delivery of a subscription, through its paginated log. */
async function deliveriesOf(key: string, subscriptionId: string) {
  const all: any[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await service.api("GET", `/v1/subscriptions/${subscriptionId}/deliveries?${query}`, { token: key });
    expect(res.status, res.text).toBe(200);
    all.push(...res.json.data);
    cursor = res.json.next_cursor;
  } while (cursor);
  return all;
}

async function settled(key: string, eventId: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const event = await service.api("GET", `/v1/events/${eventId}`, { token: key });
    const [d] = event.json.deliveries;
    if (d && !["pending", "in_flight"].includes(d.status)) return (await service.api("GET", `/v1/deliveries/${d.id}`, { token: key })).json;
    if (Date.now() > deadline) throw new Error(`delivery of ${eventId} never settled`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The most receipts in any window of `windowMs`. */
function busiestWindow(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (sorted[j] <= sorted[i] - windowMs) j++;
    most = Math.max(most, i - j + 1);
  }
  return most;
}

describe("throttling", () => {
  it("a throttled endpoint (r = 10) receives 300 events, all of them, never more than 11 a second over any 10 s window", async () => {
    const account = await newAccount();
    let secret = "";
    const receiver = await verifyingReceiver(() => secret, (_req, _n, res) => answer(res, 200));
    const sub = await subscribe(account.key, { url: `${receiver.url}/throttled`, throttle_rate: 10 });
    secret = sub.secret;
    expect(sub.throttle_rate).toBe(10);
    const started = Date.now();
    for (let i = 0; i < 3; i++) await emit(account.id, 100, i * 100);

    const got = await receiver.waitFor(300, 150_000);
    const finished = Date.now();
    // Let anything extra arrive before counting.
    await new Promise((r) => setTimeout(r, 3000));
    const ids = new Set(receiver.requests.map((r) => r.headers["webhook-id"]));
    expect(ids.size).toBe(300);
    expect(new Set(receiver.requests.map((r) => JSON.parse(r.body).data.n)).size).toBe(300);
    const times = receiver.requests.map((r) => r.at);
    const busiest = busiestWindow(times, 10_000);
    const span = Math.max(...times) - Math.min(...times);
    console.log(
      `throttle r=10: 300 receipts over ${(span / 1000).toFixed(1)} s (all in by ${((finished - started) / 1000).toFixed(1)} s after the first emit), ` +
        `busiest 10 s window ${busiest}, busiest 1 s window ${busiestWindow(times, 1000)}`,
    );
    expect(busiest).toBeLessThanOrEqual(110);
    // Waiting is not failing: each was sent once, and none counted against the endpoint.
    expect(got).toHaveLength(300);
    expect(receiver.requests).toHaveLength(300);
    const deliveries = await deliveriesOf(account.key, sub.id);
    expect(deliveries).toHaveLength(300);
    expect(deliveries.every((d) => d.status === "delivered" && d.attempts_count === 1)).toBe(true);
    const after = await service.api("GET", `/v1/subscriptions/${sub.id}`, { token: account.key });
    expect(after.json).toMatchObject({ active: true, consecutive_failures: 0, throttle_rate: 10 });
    // At the rate, not below it: 300 at 10 a second take 30 s.
    expect(span).toBeGreaterThanOrEqual(27_000);
  }, 240_000);
});

describe("what the receiver says", () => {
  it("a 429 with Retry-After: 3 delays the next attempt by at least 3 s, still one failed attempt", async () => {
    const account = await newAccount();
    let secret = "";
    const receiver = await verifyingReceiver(() => secret, (_req, n, res) => {
      if (n === 1) {
        res.writeHead(429, { "content-type": "text/plain", "retry-after": "3" });
        res.end("slow down");
      } else answer(res, 200);
    });
    const sub = await subscribe(account.key, { url: `${receiver.url}/busy` });
    secret = sub.secret;
    const [event] = await emit(account.id, 1);
    const detail = await settled(account.key, event.id);
    expect(detail.status).toBe("delivered");
    expect(detail.attempts.map((a: any) => [a.number, a.outcome, a.status_code])).toEqual([
      [1, "http_status", 429],
      [2, "success", 200],
    ]);
    const [first, second] = detail.attempts;
    expect(first.error).toContain("it asked to wait 3 s (Retry-After: 3)");
    expect(first.error).toContain(new URL(receiver.url).host);
    // On the service's own clock: from the end of the first attempt to the start of the second.
    const gap = Date.parse(second.started_at) - (Date.parse(first.started_at) + first.duration_ms);
    expect(gap).toBeGreaterThanOrEqual(3000);
    expect(receiver.requests).toHaveLength(2);
  }, 60_000);

  it("a 410 switches the subscription off after one attempt", async () => {
    const account = await newAccount();
    let secret = "";
    const receiver = await verifyingReceiver(() => secret, (_req, _n, res) => answer(res, 410, { gone: true }));
    const sub = await subscribe(account.key, { url: `${receiver.url}/gone` });
    secret = sub.secret;
    const [event] = await emit(account.id, 1);
    const detail = await settled(account.key, event.id);
    expect(detail.status).toBe("failed");
    expect(detail.attempts).toHaveLength(1);
    expect(detail.attempts[0]).toMatchObject({ status_code: 410, error: `${new URL(receiver.url).host} answered 410 Gone: the receiver says this endpoint is gone for good` });
    const off = await service.api("GET", `/v1/subscriptions/${sub.id}`, { token: account.key });
    expect(off.json).toMatchObject({ active: false, disabled_reason: "the receiver answered 410 Gone: the endpoint is gone for good", consecutive_failures: 1 });
    const [later] = await emit(account.id, 1, 1);
    expect((await settled(account.key, later.id)).status).toBe("skipped");
    await new Promise((r) => setTimeout(r, 1500));
    expect(receiver.requests).toHaveLength(1);
  }, 60_000);
});

/** A TCP server that does `onData` with each connection's first bytes. */
async function tcpServer(onData: (socket: import("node:net").Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    socket.on("error", () => {});
    socket.once("data", () => onData(socket));
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return (server.address() as import("node:net").AddressInfo).port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as import("node:net").AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

describe("attempt errors say what a person can act on, and name the host (workerd's own failures)", () => {
  let key = "";
  beforeAll(async () => {
    key = (await newAccount()).key;
  });

  async function testSend(url: string) {
    const sub = await subscribe(key, { url });
    const res = await service.api("POST", `/v1/subscriptions/${sub.id}/test`, { token: key });
    expect(res.status, res.text).toBe(200);
    expect(res.json.success).toBe(false);
    await service.api("DELETE", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(res.json.error).not.toMatch(/internal error|reference =/);
    return res.json.error as string;
  }

  it("the Clara.io example url, http://foo.example.com/hook: the name does not resolve", async () => {
    // Created through the Clara.io face, as its documented curl example does.
    const clara = await newAccount();
    const name = (await service.api("GET", "/v1/account", { token: clara.key })).json.name;
    const hook = await service.api("POST", "/api/webhooks", {
      basic: [name, clara.key],
      rawBody: "url=http://foo.example.com/hook&statuses[]=ok&jobTypes[]=export&active=true",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
    expect(hook.status, hook.text).toBe(200);
    const res = await service.api("POST", `/v1/subscriptions/${hook.json._id}/test`, { token: clara.key });
    expect(res.json.error).toBe("foo.example.com does not resolve: DNS has no address for it (check the host name in the subscription's url)");
  });

  it("a refused connection", async () => {
    const port = await closedPort();
    expect(await testSend(`http://127.0.0.1:${port}/hook`)).toBe(
      `127.0.0.1:${port} refused the connection: nothing accepts connections on port ${port} (is the receiver running?)`,
    );
  });

  it("a connection closed before the answer", async () => {
    const port = await tcpServer((socket) => socket.destroy());
    expect(await testSend(`http://127.0.0.1:${port}/hook`)).toBe(`127.0.0.1:${port} closed the connection before answering`);
  });

  it("an answer that is not HTTP", async () => {
    const port = await tcpServer((socket) => socket.end("hello there\r\n\r\n"));
    expect(await testSend(`http://127.0.0.1:${port}/hook`)).toBe(`127.0.0.1:${port} answered with something that is not HTTP`);
  });

  it("a TLS error: https to a server that does not speak TLS", async () => {
    const plain = await startReceiver((_req, _n, res) => answer(res, 200));
    receivers.push(plain);
    const { port } = new URL(plain.url);
    expect(await testSend(`https://127.0.0.1:${port}/hook`)).toBe(
      `the TLS handshake with 127.0.0.1:${port} failed: its certificate is not trusted or not for this host name, or it does not speak TLS on port ${port}`,
    );
  });

  it("a redirect, with its Location", async () => {
    const moved = await startReceiver((_req, _n, res) => {
      res.writeHead(301, { location: "https://hooks.example.com/new-home" });
      res.end();
    });
    receivers.push(moved);
    expect(await testSend(`${moved.url}/old-home`)).toBe(
      `${new URL(moved.url).host} answered 301 Moved Permanently, a redirect to https://hooks.example.com/new-home: redirects are not followed (point the subscription at the new url if the endpoint moved)`,
    );
  });
});
