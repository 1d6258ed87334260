/**
 * The failure counter (delivery/health) during an account move: a report that comes in after the
 * move copied the subscription must not land on the old shard, whose rows the move erases. The
 * move's steps are taken here by hand, as delivery/account-move takes them, so that the report
 * comes in exactly between the copy and the switch.
 */
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { GONE_REASON, healthOf } from "../../src/delivery/health";
import { call, createSubscription } from "../worker/harness";
import { receiverUrl, waitFor } from "../worker/delivery-harness";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function insertRow(db: D1Database, table: string, row: Record<string, unknown>) {
  const cols = Object.keys(row);
  await db.prepare(`INSERT INTO ${table} (${cols.join(", ")}) VALUES (${cols.map(() => "?").join(", ")})`).bind(...Object.values(row)).run();
}

const subscriptionOn = (db: D1Database, id: string) =>
  db.prepare("SELECT active, consecutive_failures, disabled_reason FROM subscriptions WHERE id = ?").bind(id).first();

it("failures reported between the move's copy and its switch are counted, and switch it off, on the new shard once it has switched", async () => {
  const res = await call("POST", "/v1/accounts", { body: { name: `health-move-${Date.now().toString(36)}`, shard: 0 } });
  expect(res.status, res.text).toBe(201);
  const { id, api_key } = res.json;
  const sub = await createSubscription(api_key.key, { url: receiverUrl("status/500").url });

  // Freeze: the control row (shard 0's too) says moving_to; the target's copy is frozen as well.
  await env.DB.prepare("UPDATE accounts SET moving_to = 1 WHERE id = ?").bind(id).run();
  const account = (await env.DB.prepare("SELECT * FROM accounts WHERE id = ?").bind(id).first())!;
  await insertRow(env.DB_1!, "accounts", { ...account, shard: 0, moving_to: 1 });
  // Copy: the subscription, as it is now, to shard 1.
  await insertRow(env.DB_1!, "subscriptions", (await env.DB.prepare("SELECT * FROM subscriptions WHERE id = ?").bind(sub.id).first())!);

  // Attempts the consumer of shard 0 ended just now: a failure, then a 410 Gone. The counter answers
  // at once (the consumer awaits it, and the move's drain awaits the consumer) and owes the write.
  const health = healthOf(env, sub.id);
  expect(await health.report(sub.id, "att_move_1", false, undefined, 0)).toEqual({ count: 1, deactivated: false });
  expect(await health.gone(sub.id, "att_move_2", undefined, 0)).toEqual({ count: 2, deactivated: true });
  await sleep(1_500);
  // Nothing written on the old shard, where it would be erased, nor yet on the new one.
  expect(await subscriptionOn(env.DB, sub.id)).toEqual({ active: 1, consecutive_failures: 0, disabled_reason: null });
  expect(await subscriptionOn(env.DB_1!, sub.id)).toEqual({ active: 1, consecutive_failures: 0, disabled_reason: null });

  // Switch: live on shard 1. The object's alarm makes the write there.
  await env.DB_1!.prepare("UPDATE accounts SET shard = 1, moving_to = NULL WHERE id = ?").bind(id).run();
  await env.DB.prepare("UPDATE accounts SET shard = 1 WHERE id = ?").bind(id).run();

  const moved = await waitFor("the switch-off on shard 1", async () => {
    const row = await subscriptionOn(env.DB_1!, sub.id);
    return row?.active === 0 ? row : null;
  }, 10_000);
  expect(moved).toEqual({ active: 0, consecutive_failures: 2, disabled_reason: GONE_REASON });
  expect(await subscriptionOn(env.DB, sub.id)).toEqual({ active: 1, consecutive_failures: 0, disabled_reason: null });
  // The API, now served from shard 1, shows it switched off.
  const shown = await call("GET", `/v1/subscriptions/${sub.id}`, { token: api_key.key });
  expect(shown.json).toMatchObject({ active: false, consecutive_failures: 2, disabled_reason: GONE_REASON });
});

it("a report for a subscription deleted meanwhile writes nothing and still answers", async () => {
  const res = await call("POST", "/v1/accounts", { body: { name: `health-gone-${Date.now().toString(36)}`, shard: 1 } });
  const sub = await createSubscription(res.json.api_key.key, { url: receiverUrl("status/500").url });
  expect((await call("DELETE", `/v1/subscriptions/${sub.id}`, { token: res.json.api_key.key })).status).toBe(204);
  expect(await healthOf(env, sub.id).report(sub.id, "att_x", false, undefined, 1)).toEqual({ count: 1, deactivated: false });
});
