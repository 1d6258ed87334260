/// <reference types="node" />
/**
 * Moving an account between two data shards end to end: the real service with SHARDS=2 (a
 * generated wrangler configuration, two local D1 databases and two queues), a real receiver on
 * 127.0.0.1 that verifies every delivery with the standardwebhooks package, and emits that keep
 * coming while the move runs, each retried with its Idempotency-Key when the move answers 503.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { answer, startReceiver, type Receiver } from "./receiver";
import { type Service, startService } from "./service";

let service: Service;
let receiver: Receiver;

beforeAll(async () => {
  service = await startService({ SHARDS: "2" });
  receiver = await startReceiver((_req, _n, res) => answer(res, 200));
});

afterAll(async () => {
  await receiver?.close();
  await service?.stop();
});

it("moves an account from shard 0 to shard 1 while it emits: every event delivered once, verified, and its log read from shard 1", async () => {
  const created = await service.api("POST", "/v1/accounts", { body: { name: "e2e-move", shard: 0 } });
  expect(created.status, created.text).toBe(201);
  expect(created.json.shard).toBe(0);
  const account = { id: created.json.id as string, key: created.json.api_key.key as string };
  const sub = await service.api("POST", "/v1/subscriptions", { token: account.key, body: { url: receiver.url, event_types: ["*"] } });
  expect(sub.status, sub.text).toBe(201);

  let frozenAnswers = 0;
  const eventIds: string[] = [];
  const emitCall = async (i: number) => {
    const events = Array.from({ length: 4 }, (_, j) => ({ account_id: account.id, type: "document.updated", data: { call: i, n: j } }));
    for (;;) {
      const res = await service.api("POST", "/v1/events", { body: { events }, headers: { "idempotency-key": `e2e-move-${i}` } });
      if (res.status === 202) return eventIds.push(...res.json.data.map((d: { id: string }) => d.id));
      expect(res.status, res.text).toBe(503);
      expect(Number(res.headers.get("retry-after"))).toBeGreaterThan(0);
      frozenAnswers++;
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  for (let i = 0; i < 10; i++) await emitCall(i);
  const move = await service.api("POST", `/v1/accounts/${account.id}/move`, { body: { shard: 1 } });
  expect(move.status, move.text).toBe(202);
  expect(move.json).toEqual({ moving_to: 1 });
  const started = Date.now();
  let i = 10;
  for (;;) {
    await emitCall(i++);
    const now = await service.api("GET", `/v1/accounts/${account.id}`);
    if (now.json.shard === 1 && now.json.moving_to === null) break;
    if (Date.now() - started > 60_000) throw new Error("the move did not end within 60 s");
  }
  for (let j = 0; j < 5; j++) await emitCall(i++);

  const got = await receiver.waitFor(eventIds.length, 60_000);
  await new Promise((r) => setTimeout(r, 1000));
  expect(receiver.requests).toHaveLength(eventIds.length);
  const verifier = new Webhook(sub.json.secret);
  const seen = got.map((r) => (verifier.verify(r.body, r.headers) as { data: { call: number; n: number } }).data);
  expect(new Set(seen.map((d) => `${d.call}.${d.n}`)).size).toBe(eventIds.length);
  expect(new Set(got.map((r) => r.headers["webhook-id"])).size).toBe(eventIds.length);

  // The account's log, read through the API from its new shard: every event, each delivered.
  const listed: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await service.api("GET", `/v1/events?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, { token: account.key });
    expect(page.status, page.text).toBe(200);
    listed.push(...page.json.data.map((e: { id: string }) => e.id));
    cursor = page.json.next_cursor;
  } while (cursor);
  expect(listed.sort()).toEqual([...eventIds].sort());
  const first = await service.api("GET", `/v1/events/${eventIds[0]}`, { token: account.key });
  expect(first.json.deliveries.map((d: { status: string }) => d.status)).toEqual(["delivered"]);
  console.log(`e2e move: ${eventIds.length} events, ${frozenAnswers} emit calls answered 503 while frozen, move took ${Date.now() - started} ms or less`);
});
