/// <reference types="node" />
/**
 * The stats match the log, end to end: the real service (wrangler dev: workerd with D1, Queues
 * and Durable Objects) delivers to a real receiver on 127.0.0.1 that verifies every delivery with
 * the standardwebhooks package, answers after varied delays and fails some; the subscription's
 * stats and the operator's are then checked against the log the API shows.
 */
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, expect, it } from "vitest";
import { expectStatsMatchLog, hourlyOf, type LoggedDelivery } from "../stats-truth";
import { answer, startReceiver } from "./receiver";
import { type Service, startService } from "./service";

let service: Service;

beforeAll(async () => {
  // A short schedule: the retries of failed attempts follow within seconds.
  service = await startService({ RETRY_SCHEDULE: "1,1,1" });
});

afterAll(async () => {
  await service?.stop();
});

const EVENTS = 40;
const DELAYS = [0, 5, 20, 60, 150, 400];

it("a subscription's stats and the operator's match the log of a real receiver's deliveries", async () => {
  const acct = await service.api("POST", "/v1/accounts", { body: { name: "e2e-stats" } });
  expect(acct.status, acct.text).toBe(201);
  const key = acct.json.api_key.key as string;

  let secret = "";
  const invalid: string[] = [];
  let n = 0;
  // Verifies every delivery; each event's first attempt fails with 500 when its index is a multiple of 7.
  const server = await startReceiver(async (req, _count, res) => {
    try {
      new Webhook(secret).verify(req.body, req.headers);
    } catch (err) {
      invalid.push(String(err));
      return answer(res, 400);
    }
    const { i } = JSON.parse(req.body).data as { i: number };
    const seen = server.requests.filter((r) => r.headers["webhook-id"] === req.headers["webhook-id"]).length;
    await new Promise((r) => setTimeout(r, DELAYS[n++ % DELAYS.length]));
    answer(res, i % 7 === 0 && seen === 1 ? 500 : 200);
  });
  try {
    const sub = await service.api("POST", "/v1/subscriptions", {
      token: key,
      body: { url: `${server.url}/hooks`, event_types: ["document.updated"] },
    });
    expect(sub.status, sub.text).toBe(201);
    secret = sub.json.secret;

    const emitted = await service.api("POST", "/v1/events", {
      body: { events: Array.from({ length: EVENTS }, (_, i) => ({ account_id: acct.json.id, type: "document.updated", data: { i } })) },
    });
    expect(emitted.status, emitted.text).toBe(202);
    const log: LoggedDelivery[] = [];
    for (const e of emitted.json.data) log.push(await service.settledDelivery(e.id, key, 60_000));
    expect(invalid).toEqual([]);
    expect(log.every((d: any) => d.status === "delivered")).toBe(true);
    // Events 0, 7, 14, ... failed once and succeeded on their retry.
    const retried = Math.ceil(EVENTS / 7);
    expect(log.flatMap((d) => d.attempts)).toHaveLength(EVENTS + retried);
    expect(server.requests).toHaveLength(EVENTS + retried);

    const stats = await service.api("GET", `/v1/subscriptions/${sub.json.id}/stats`, { token: key });
    expect(stats.status, stats.text).toBe(200);
    expectStatsMatchLog(stats.json, log);
    expect(stats.json.day).toMatchObject({ attempts: EVENTS + retried, succeeded: EVENTS, failed: retried, deliveries_failed: 0 });
    const hours = hourlyOf(log);
    const charted = stats.json.hourly.filter((h: { attempts: number }) => h.attempts > 0);
    expect(charted.map((h: { hour: string }) => h.hour).sort()).toEqual([...hours.keys()].sort());
    for (const { hour, ...counts } of charted) expect(counts, hour).toEqual(hours.get(hour));

    // The operator's figures: this service delivered nothing else, so they are the same log's.
    const ops = await service.api("GET", "/v1/stats");
    expect(ops.status, ops.text).toBe(200);
    expectStatsMatchLog(ops.json, log);
    expect(ops.json.most_failing.subscriptions).toEqual([
      expect.objectContaining({ subscription_id: sub.json.id, account_id: acct.json.id, target_host: new URL(server.url).host, failed: retried }),
    ]);
    expect(ops.json.backlog).toMatchObject({ pending: 0, due: 0, in_flight: 0, oldest_pending_at: null });
    // An account cannot read them.
    expect((await service.api("GET", "/v1/stats", { token: key })).status).toBe(403);
  } finally {
    await server.close();
  }
});
