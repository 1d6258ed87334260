import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { call, createAccount, createSubscription, expectProblem } from "./harness";
import { emit, received, receiverUrl, settledDeliveries } from "./delivery-harness";

const countEvents = async (accountId: string) =>
  (await call("GET", `/v1/events?account_id=${accountId}&limit=100`)).json.data.length as number;

describe.concurrent("POST /v1/events", () => {
  it("fans 100 events out to 20 subscriptions in one call (inactive ones record skipped deliveries)", async () => {
    const { id: accountId, key } = await createAccount("business");
    for (let i = 0; i < 20; i++) {
      await createSubscription(key, { url: `https://example.com/hook/${i}`, event_types: ["*"], active: false });
    }
    const events = Array.from({ length: 100 }, (_, i) => ({ account_id: accountId, type: "document.created", data: { i } }));
    const res = await call("POST", "/v1/events", { body: { events } });
    expect(res.status, res.text).toBe(202);
    expect(res.json.data).toHaveLength(100);
    expect(res.json.data.every((e: any) => e.deliveries === 20 && /^evt_/.test(e.id))).toBe(true);
    const one = await call("GET", `/v1/events/${res.json.data[42].id}`);
    expect(one.json.data).toEqual({ i: 42 });
    expect(one.json.deliveries).toHaveLength(20);
    expect(one.json.deliveries.every((d: any) => d.status === "skipped")).toBe(true);
  });

  it("matches by event type pattern and subject; other accounts' subscriptions get nothing", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const onlyScene = await createSubscription(a.key, { url: receiverUrl("ok").url, event_types: ["export.*"], subjects: ["scene-1"] });
    const allDocs = await createSubscription(a.key, { url: receiverUrl("ok").url, event_types: ["document.*"] });
    await createSubscription(b.key, { url: receiverUrl("ok").url, event_types: ["*"] });
    const hit = await emit(a.id, "export.ok", { _id: "job1" }, { subject: "scene-1" });
    const otherScene = await emit(a.id, "export.ok", { _id: "job2" }, { subject: "scene-2" });
    const doc = await emit(a.id, "document.deleted", {});
    expect([hit.deliveries, otherScene.deliveries, doc.deliveries]).toEqual([1, 0, 1]);
    const hitDeliveries = await settledDeliveries(hit.id);
    expect(hitDeliveries.map((d: any) => d.subscription_id)).toEqual([onlyScene.id]);
    const docDeliveries = await settledDeliveries(doc.id);
    expect(docDeliveries.map((d: any) => d.subscription_id)).toEqual([allDocs.id]);
  });

  it("validates a batch whole: one bad event is a 422 naming its index, and nothing is stored", async () => {
    const { id: accountId } = await createAccount();
    const before = await countEvents(accountId);
    const res = await call("POST", "/v1/events", {
      body: {
        events: [
          { account_id: accountId, type: "document.created", data: {} },
          { account_id: accountId, type: "no.such.type", data: {} },
        ],
      },
    });
    const p = expectProblem(res, 422);
    expect(p.errors).toContainEqual({ path: "events[1].type", message: "unknown event type no.such.type" });
    expect(await countEvents(accountId)).toBe(before);
  });

  it("refuses unknown accounts, missing data, unknown fields and more than 100 events", async () => {
    const { id: accountId } = await createAccount();
    const noAccount = await call("POST", "/v1/events", {
      body: { account_id: "acct_00000000-0000-4000-8000-000000000000", type: "document.created", data: {} },
    });
    expect(expectProblem(noAccount, 422).errors).toContainEqual({ path: "account_id", message: "no such account" });
    const noData = await call("POST", "/v1/events", { body: { account_id: accountId, type: "document.created" } });
    expectProblem(noData, 422);
    const extra = await call("POST", "/v1/events", { body: { account_id: accountId, type: "document.created", data: {}, colour: "red" } });
    expectProblem(extra, 422);
    const tooMany = await call("POST", "/v1/events", {
      body: { events: Array.from({ length: 101 }, () => ({ account_id: accountId, type: "document.created", data: {} })) },
    });
    expectProblem(tooMany, 422);
    expect(await countEvents(accountId)).toBe(0);
  });

  it("answers 413 naming the cap when an event's data is over 256 KiB", async () => {
    const { id: accountId } = await createAccount();
    const res = await call("POST", "/v1/events", {
      body: { account_id: accountId, type: "document.created", data: { blob: "x".repeat(300 * 1024) } },
    });
    const p = expectProblem(res, 413);
    expect(p.detail).toContain("256 KiB");
  });

  it("validates data against the event type's JSON schema", async () => {
    const { id: accountId } = await createAccount();
    const name = `invoice.paid${Date.now()}`.replace(/\d+$/, (d) => `_${d}`);
    const created = await call("POST", "/v1/event-types", {
      body: {
        name,
        description: "An invoice was paid",
        schema: { type: "object", required: ["amount"], properties: { amount: { type: "number" } } },
      },
    });
    expect(created.status, created.text).toBe(201);
    const bad = await call("POST", "/v1/events", { body: { account_id: accountId, type: name, data: { amount: "ten" } } });
    const p = expectProblem(bad, 422);
    expect(p.errors?.some((e) => e.path.startsWith("data") && e.path.includes("amount"))).toBe(true);
    const good = await call("POST", "/v1/events", { body: { account_id: accountId, type: name, data: { amount: 10 } } });
    expect(good.status).toBe(202);
  });

  it("replays the first answer for a repeated Idempotency-Key and refuses it with another body", async () => {
    const { id: accountId } = await createAccount();
    const body = { account_id: accountId, type: "document.created", data: { n: 1 } };
    const headers = { "idempotency-key": "order-42" };
    const first = await call("POST", "/v1/events", { body, headers });
    const again = await call("POST", "/v1/events", { body, headers });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.json).toEqual(first.json);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    const other = await call("POST", "/v1/events", { body: { ...body, data: { n: 2 } }, headers });
    expectProblem(other, 409);
    expect(await countEvents(accountId)).toBe(1);

    // The body-level key works per event too.
    const e1 = await call("POST", "/v1/events", { body: { ...body, idempotency_key: "evt-key" } });
    const e2 = await call("POST", "/v1/events", { body: { ...body, idempotency_key: "evt-key" } });
    expect(e2.json.data[0].id).toBe(e1.json.data[0].id);
    expect(await countEvents(accountId)).toBe(2);
  });

  it("is for the operator: an account key gets 403", async () => {
    const { id: accountId, key } = await createAccount();
    const res = await call("POST", "/v1/events", { token: key, body: { account_id: accountId, type: "document.created", data: {} } });
    expectProblem(res, 403);
  });

  it("accepts events from another Worker through the RPC entrypoint", async () => {
    const { id: accountId, key } = await createAccount();
    const target = receiverUrl("ok");
    await createSubscription(key, { url: target.url });
    const single = await exports.default.emit({ account_id: accountId, type: "document.updated", data: { via: "rpc" } });
    expect(single.data[0]).toMatchObject({ id: expect.stringMatching(/^evt_/), deliveries: 1 });
    const batch = await exports.default.emitBatch([
      { account_id: accountId, type: "document.updated", data: { n: 1 } },
      { account_id: accountId, type: "document.updated", data: { n: 2 } },
    ]);
    expect(batch.data).toHaveLength(2);
    // (A refused RPC call is tested end to end, from a real second Worker: the pool reports it as uncaught here.)
    await settledDeliveries(single.data[0].id);
    expect((await received(target.key)).map((r) => JSON.parse(r.body).data.via)).toContain("rpc");
  });
});

describe.concurrent("reading events", () => {
  it("an account reads its own events only; another's event id is a 404", async () => {
    const a = await createAccount();
    const b = await createAccount();
    const ea = await emit(a.id, "document.created", { who: "a" }, { subject: "s1" });
    await emit(a.id, "folder.created", { who: "a" });
    const eb = await emit(b.id, "document.created", { who: "b" });
    const mine = await call("GET", "/v1/events", { token: a.key });
    expect(mine.json.data.map((e: any) => e.account_id)).toEqual([a.id, a.id]);
    const filtered = await call("GET", "/v1/events?type=document.created&subject=s1", { token: a.key });
    expect(filtered.json.data.map((e: any) => e.id)).toEqual([ea.id]);
    expectProblem(await call("GET", `/v1/events/${eb.id}`, { token: a.key }), 404);
    const own = await call("GET", `/v1/events/${ea.id}`, { token: a.key });
    expect(own.json).toMatchObject({ id: ea.id, type: "document.created", subject: "s1", data: { who: "a" } });
    // account_id in the query cannot widen an account's view.
    const sneaky = await call("GET", `/v1/events?account_id=${b.id}`, { token: a.key });
    expect(sneaky.json.data.every((e: any) => e.account_id === a.id)).toBe(true);
  });

  it("lists every delivery of an event, a deleted subscription's too, and none of another event made at the same moment", async () => {
    const { id: accountId, key } = await createAccount("business");
    const kept = await createSubscription(key, { url: receiverUrl("ok").url });
    const gone = await createSubscription(key, { url: receiverUrl("ok").url });
    // Two events in one call share their created_at: each lists only its own deliveries.
    const res = await call("POST", "/v1/events", {
      body: { events: [0, 1].map((n) => ({ account_id: accountId, type: "document.updated", data: { n } })) },
    });
    expect(res.status, res.text).toBe(202);
    const [first, second] = res.json.data as { id: string }[];
    const before = await settledDeliveries(first.id);
    expect(before.map((d: any) => d.subscription_id).sort()).toEqual([kept.id, gone.id].sort());
    expect((await call("DELETE", `/v1/subscriptions/${gone.id}`, { token: key })).status).toBe(204);
    for (const e of [first, second]) {
      const detail = await call("GET", `/v1/events/${e.id}`, { token: key });
      expect(detail.json.deliveries.map((d: any) => [d.event_id, d.subscription_id]).sort()).toEqual(
        [[e.id, kept.id], [e.id, gone.id]].sort(),
      );
    }
    // A delivery's account is its subscription's: a deleted one's delivery is still the account's own, and no one else's.
    const orphan = before.find((d: any) => d.subscription_id === gone.id)!;
    expect((await call("GET", `/v1/deliveries/${orphan.id}`, { token: key })).json).toMatchObject({ id: orphan.id, status: "delivered" });
    const stranger = await createAccount();
    expectProblem(await call("GET", `/v1/deliveries/${orphan.id}`, { token: stranger.key }), 404);
    expect((await call("GET", `/v1/deliveries/${orphan.id}`)).json).toMatchObject({ id: orphan.id, subscription_id: gone.id });
  });

  it("pages through events with a cursor, newest first", async () => {
    const { id: accountId, key } = await createAccount();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await emit(accountId, "document.created", { i })).id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const res = await call("GET", `/v1/events?limit=2${cursor ? `&cursor=${cursor}` : ""}`, { token: key });
      expect(res.json.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.json.data.map((e: any) => e.id));
      cursor = res.json.next_cursor;
    } while (cursor);
    expect(seen).toEqual([...ids].reverse());
  });
});
