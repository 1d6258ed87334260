// `node scripts/bench/move-probe.mjs [EVENTS]`: how long moving an account between shards takes.
// Starts Hookline with SHARDS=2, gives an account on shard 0 EVENTS events (default 20,000) of one
// subscription, waits until all are delivered, then moves it to shard 1 and times the move: until
// the account shows shard 1, and until the source is erased; the freeze itself as the move logs it
// (from the freeze's commit to the switch: emits waited this long). Prints JSON, with the freeze per
// million deliveries.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startHookline } from "../launcher.mjs";
import { startReceiver } from "./receiver.mjs";

const events = Number(process.argv[2] ?? 20_000);
const ADMIN = "move-probe-admin";
const stateDir = mkdtempSync(join(tmpdir(), "hookline-move-"));
const receiver = await startReceiver();
const hookline = await startHookline({
  port: await freePort(),
  stateDir,
  vars: { ADMIN_TOKEN: ADMIN, SECRETS_KEY: "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=", ALLOW_INSECURE_TARGETS: "true", SHARDS: "2" },
  devVars: false,
  inheritEnv: false,
  quiet: true,
});
const api = async (method, path, body, token = ADMIN) => {
  const res = await fetch(hookline.url + path, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body ? { "content-type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, json: await res.json().catch(() => null) };
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
try {
  const account = (await api("POST", "/v1/accounts", { name: "move-probe", shard: 0 })).json;
  const key = account.api_key.key;
  const sub = await api("POST", "/v1/subscriptions", { url: receiver.url, event_types: ["*"] }, key);
  if (sub.status !== 201) throw new Error(`subscription: ${sub.status}`);
  for (let sent = 0; sent < events; sent += 100) {
    const batch = Array.from({ length: Math.min(100, events - sent) }, (_, i) => ({ account_id: account.id, type: "document.updated", data: { run: "move", seq: sent + i, pad: "x".repeat(200) } }));
    const res = await api("POST", "/v1/events", { events: batch });
    if (res.status !== 202) throw new Error(`emit: ${res.status}`);
  }
  while (receiver.received("move").length < events) await sleep(200);
  await sleep(2000);
  const started = Date.now();
  const move = await api("POST", `/v1/accounts/${account.id}/move`, { shard: 1 });
  if (move.status !== 202) throw new Error(`move: ${move.status} ${JSON.stringify(move.json)}`);
  let switchedMs = null;
  for (;;) {
    const now = (await api("GET", `/v1/accounts/${account.id}`)).json;
    if (switchedMs === null && now.shard === 1) switchedMs = Date.now() - started;
    if (now.shard === 1 && now.moving_to === null) break;
    await sleep(50);
  }
  const doneMs = Date.now() - started;
  // The move's own account of its freeze (src/delivery/account-move.ts logs it at the switch).
  const logged = /moved from shard 0 to 1: (\d+) deliveries to send copied, frozen (\d+) ms/.exec(hookline.output());
  const history = /history copied \((\d+) deliveries in all\) and source erased (\d+) ms after the switch/.exec(hookline.output());
  console.log(
    JSON.stringify({
      deliveries: events,
      copied_frozen: logged ? Number(logged[1]) : null,
      frozen_ms: logged ? Number(logged[2]) : null,
      history_and_erase_ms: history ? Number(history[2]) : null,
      switch_seen_ms: switchedMs,
      erased_ms: doneMs,
      frozen_s_per_million_deliveries: logged ? Math.round(((Number(logged[2]) / 1000) * 1e6) / events) : null,
      total_s_per_million_deliveries: Math.round(((doneMs / 1000) * 1e6) / events),
      history_s_per_million_deliveries: history ? Math.round(((Number(history[2]) / 1000) * 1e6) / events) : null,
    }),
  );
} finally {
  await hookline.stop();
  await receiver.close();
  rmSync(stateDir, { recursive: true, force: true });
}
process.exit(0);
