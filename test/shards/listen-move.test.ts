/**
 * A `webhook listen` session open while its account moves (delivery/account-move): the move copies
 * the session to the new shard; its Durable Object then keeps the lease there, not on the old shard
 * whose rows the move erased, and closing it removes it there.
 */
import { runDurableObjectAlarm } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { expect, it } from "vitest";
import { waitFor } from "../worker/delivery-harness";
import { BASE, call } from "../worker/harness";

const stubOf = (sessionId: string) => env.LISTEN_SESSION.get(env.LISTEN_SESSION.idFromName(sessionId));
const sessionOn = (db: D1Database, id: string) => db.prepare("SELECT expires_at FROM listen_sessions WHERE id = ?").bind(id).first<{ expires_at: number }>();
const subsOn = async (db: D1Database, sessionId: string) =>
  (await db.prepare("SELECT count(*) AS n FROM subscriptions WHERE listen_session_id = ?").bind(sessionId).first<{ n: number }>())!.n;

it("after a move, the session's lease is kept on the new shard, and closing it removes it there", async () => {
  const created = await call("POST", "/v1/accounts", { body: { name: `listen-move-${Date.now().toString(36)}`, shard: 0 } });
  expect(created.status, created.text).toBe(201);
  const { id, api_key } = created.json;
  const opened = await call("POST", "/v1/listen", { token: api_key.key, body: { event_types: ["attribute_updated"] } });
  expect(opened.status, opened.text).toBe(201);
  const session = opened.json.id as string;
  const res = await exports.default.fetch(`${BASE}/v1/listen/${session}/connect`, {
    headers: { upgrade: "websocket", authorization: `Bearer ${api_key.key}` },
  });
  expect(res.status).toBe(101);
  const ws = res.webSocket!;
  ws.accept();

  expect((await call("POST", `/v1/accounts/${id}/move`, { body: { shard: 1 } })).status).toBe(202);
  await waitFor("the move to end", async () => {
    const account = (await call("GET", `/v1/accounts/${id}`)).json;
    return account.moving_to === null && account.shard === 1;
  });
  expect(await sessionOn(env.DB, session)).toBeNull();
  const copied = await sessionOn(env.DB_1!, session);
  expect(copied).not.toBeNull();
  expect(await subsOn(env.DB_1!, session)).toBe(1);

  // The lease's next look: the socket was heard from, so the session is kept, on shard 1.
  expect(await runDurableObjectAlarm(stubOf(session))).toBe(true);
  const kept = await sessionOn(env.DB_1!, session);
  expect(kept!.expires_at).toBeGreaterThan(copied!.expires_at);
  expect(await sessionOn(env.DB, session)).toBeNull();

  // Closed by its account, now served by shard 1: gone there with its subscription.
  expect((await call("DELETE", `/v1/listen/${session}`, { token: api_key.key })).status).toBe(204);
  expect(await sessionOn(env.DB_1!, session)).toBeNull();
  expect(await subsOn(env.DB_1!, session)).toBe(0);
  ws.close();
});
