/** Emitting's decisions without D1: what a call writes, answers and enqueues, given what D1 found. */
import { describe, expect, it } from "vitest";
import { type Found, planEmit, prepareEmit } from "../../src/services/emit-plan";
import type { EmitEventInput } from "../../src/services/emit-schema";

const now = 1_700_000_000_000;
const event = (over: Partial<EmitEventInput> = {}): EmitEventInput => ({
  account_id: "acct_a",
  type: "document.updated",
  data: { id: 1 },
  ...over,
});
const found = (over: Partial<Found> = {}): Found => ({
  accounts: [{ id: "acct_a" }, { id: "acct_b" }],
  types: [{ name: "document.updated", schema: null }, { name: "document.created", schema: '{"type":"object","required":["id"]}' }],
  subscriptions: [
    { id: "sub_on", accountId: "acct_a", eventTypes: ["document.*"], subjects: null, active: true },
    { id: "sub_off", accountId: "acct_a", eventTypes: ["document.updated"], subjects: null, active: false },
    { id: "sub_subject", accountId: "acct_a", eventTypes: ["*"], subjects: ["doc_9"], active: true },
    { id: "sub_other", accountId: "acct_b", eventTypes: ["*"], subjects: null, active: true },
  ],
  remembered: [],
  ...over,
});

async function plan(inputs: EmitEventInput[], f: Found = found(), opts: { idempotencyKey?: string; batch?: boolean } = {}) {
  const call = await prepareEmit(inputs, { batch: inputs.length > 1, ...opts }, now);
  return { call, plan: planEmit(call, f, now) };
}

describe("the emit plan", () => {
  it("fans an event out to its account's matching subscriptions: pending when active, skipped when off", async () => {
    const { call, plan: p } = await plan([event()]);
    if (p.kind !== "write") throw new Error(`expected a write, got ${p.kind}`);
    expect(p.deliveries.map((d) => [d.subscriptionId, d.status])).toEqual([
      ["sub_on", "pending"],
      ["sub_off", "skipped"],
    ]);
    expect(p.deliveries.every((d) => d.eventId === call.events[0].id && d.accountId === "acct_a")).toBe(true);
    expect(p.pendingIds).toEqual([p.deliveries[0].id]);
    expect(p.events).toEqual([
      { id: call.events[0].id, accountId: "acct_a", type: "document.updated", subject: null, data: '{"id":1}', timestamp: now },
    ]);
    expect(p.body).toEqual({ data: [{ id: call.events[0].id, deliveries: 2 }] });
    expect(p.remember).toEqual([]);
    expect(call.keyed).toBe(false);
  });

  it("matches subjects, and keeps the event's own timestamp", async () => {
    const { plan: p } = await plan([event({ subject: "doc_9", timestamp: "2024-01-02T03:04:05Z" })]);
    if (p.kind !== "write") throw new Error(p.kind);
    expect(p.deliveries.map((d) => d.subscriptionId)).toEqual(["sub_on", "sub_off", "sub_subject"]);
    expect(p.events[0]).toMatchObject({ subject: "doc_9", timestamp: Date.parse("2024-01-02T03:04:05Z") });
  });

  it("an event no subscription wants is still stored, with no deliveries", async () => {
    const { plan: p } = await plan([event()], found({ subscriptions: [] }));
    if (p.kind !== "write") throw new Error(p.kind);
    expect(p.events).toHaveLength(1);
    expect(p.deliveries).toEqual([]);
    expect(p.body.data[0].deliveries).toBe(0);
  });

  it("refuses the whole call, naming each bad field, when one event is invalid", async () => {
    const { plan: p } = await plan([
      event(),
      event({ account_id: "acct_none", type: "nope.nope" }),
      event({ type: "document.created", data: {} }),
    ]);
    if (p.kind !== "refused") throw new Error(p.kind);
    expect(p.problem.code).toBe("validation");
    expect(p.problem.errors?.map((e) => e.path)).toEqual(["events[1].account_id", "events[1].type", "events[2].data"]);
  });

  it("a single event's fields are named without an index", async () => {
    const { plan: p } = await plan([event({ type: "nope.nope" })]);
    if (p.kind !== "refused") throw new Error(p.kind);
    expect(p.problem.errors).toEqual([{ path: "type", message: "unknown event type nope.nope" }]);
  });

  it("refuses an event over the size cap before anything is read", async () => {
    const tooLarge = prepareEmit([event({ data: "x".repeat(256 * 1024) })], { batch: false }, now);
    await expect(tooLarge).rejects.toMatchObject({ code: "payload_too_large" });
  });

  it("remembers each keyed event's answer and the whole call's under the header key", async () => {
    const { call, plan: p } = await plan([event({ idempotency_key: "k1" }), event()], found(), { idempotencyKey: "h" });
    if (p.kind !== "write") throw new Error(p.kind);
    expect(call.keyPairs).toEqual([["acct_a", "request:h"], ["acct_a", "event:k1"]]);
    expect(p.remember.map((r) => [r.accountId, r.key, JSON.parse(r.response)])).toEqual([
      ["acct_a", "event:k1", p.body.data[0]],
      ["acct_a", "request:h", p.body],
    ]);
    expect(p.remember[0].requestHash).toBe(call.events[0].hash);
    expect(p.remember[1].requestHash).toBe(call.requestHash);
  });

  it("replays the whole call's first answer, and refuses the header key with a different body", async () => {
    const { call } = await plan([event()], found(), { idempotencyKey: "h" });
    const first = { data: [{ id: "evt_first", deliveries: 3 }] };
    const remembered = [{ scope: "acct_a\u0000request:h", request_hash: call.requestHash, response: JSON.stringify(first) }];
    expect(planEmit(call, found({ remembered }), now)).toEqual({ kind: "replay", body: first });
    const changed = planEmit(call, found({ remembered: [{ ...remembered[0], request_hash: "other" }] }), now);
    expect(changed.kind === "refused" && changed.problem.code).toBe("conflict");
  });

  it("answers a remembered event as before and writes only the new ones", async () => {
    const { call } = await plan([event({ idempotency_key: "k1" }), event({ data: { id: 2 } })]);
    const response = '{"id":"evt_old","deliveries":1}';
    const remembered = [{ scope: "acct_a\u0000event:k1", request_hash: call.events[0].hash, response }];
    const p = planEmit(call, found({ remembered }), now);
    if (p.kind !== "write") throw new Error(p.kind);
    expect(p.body.data[0]).toEqual({ id: "evt_old", deliveries: 1 });
    expect(p.events.map((e) => e.id)).toEqual([call.events[1].id]);
    expect(p.deliveries.every((d) => d.eventId === call.events[1].id)).toBe(true);
  });

  it("refuses an event key reused with a different event (conflict) or twice in one call (validation)", async () => {
    const { call } = await plan([event({ idempotency_key: "k1" })]);
    const remembered = [{ scope: "acct_a\u0000event:k1", request_hash: "other", response: "{}" }];
    const reused = planEmit(call, found({ remembered }), now);
    expect(reused.kind === "refused" && reused.problem.code).toBe("conflict");
    const { plan: twice } = await plan([event({ idempotency_key: "k1" }), event({ idempotency_key: "k1", data: 2 })]);
    if (twice.kind !== "refused") throw new Error(twice.kind);
    expect(twice.problem.code).toBe("validation");
    expect(twice.problem.errors).toEqual([{ path: "events[1].idempotency_key", message: "repeated within this call" }]);
  });
});
