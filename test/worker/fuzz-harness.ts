/**
 * The fuzzer's transport and tally. Requests go to the Worker's own entrypoint class in
 * this isolate, with the real bindings (D1, Queues, Durable Objects), not through the
 * pool's SELF service binding: under @cloudflare/vitest-pool-workers every call through
 * that binding costs more than the one before (about 4 ms each for the first 200 calls,
 * over 100 ms each by the 600th, then "Maximum call stack size exceeded";
 * cloudflare/workers-sdk#15446), which kept a campaign of thousands of requests from finishing.
 */
import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import Hookline from "../../src/index";
import { ADMIN, BASE, type CallOptions, readAnswer } from "./harness";

export type Caller = "operator" | "account" | "anonymous";

export interface Answer {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

interface Example {
  property: string;
  request: string;
  status: number;
  response: string;
}

const tally = {
  requests: 0,
  fiveXX: 0,
  crossAccountReads: 0,
  byProperty: {} as Record<string, { requests: number; ms: number; runs: number; answers: Record<string, number> }>,
  examples: [] as Example[],
};
let property = "setup";

export function startProperty(name: string, runs: number) {
  property = name;
  tally.byProperty[name] = { requests: 0, ms: 0, runs, answers: {} };
}

export function finishProperty(ms: number) {
  tally.byProperty[property].ms = ms;
  property = "checks";
}

/** What a client sends, built as an HTTP client would (Content-Length from the bytes). */
export function buildRequest(method: string, path: string, opts: CallOptions = {}): Request {
  const headers = new Headers(opts.headers);
  if (opts.basic) headers.set("authorization", "Basic " + btoa(`${opts.basic[0]}:${opts.basic[1]}`));
  else if (opts.token !== null && !headers.has("authorization")) headers.set("authorization", `Bearer ${opts.token ?? ADMIN}`);
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  if (body !== undefined) headers.set("content-length", String(new TextEncoder().encode(body).length));
  return new Request(BASE + path, { method, headers, body });
}

/** Runs one request through Hookline's fetch handler and waits for its waitUntil work too. */
export async function dispatch(request: Request): Promise<Answer> {
  const ctx = createExecutionContext();
  const answer = await readAnswer(await new Hookline(ctx, env).fetch(request));
  await waitOnExecutionContext(ctx);
  return answer;
}

/** Secrets and ids of the account nobody else may read; filled by the test's setup. */
export const privateMarkers: string[] = [];

/**
 * Sends a fuzzed request and checks the invariant every answer keeps: a success or a 4xx
 * problem body, and nothing of the other account unless the caller sent it itself.
 * A breach is counted (for the report) and then fails the property (for fast-check to shrink).
 */
export async function fuzz(method: string, path: string, opts: CallOptions, caller: Caller, what = ""): Promise<Answer> {
  const request = buildRequest(method, path, opts);
  const sent = `${method} ${path} ${[...request.headers].map(([k, v]) => `${k}: ${v}`).join(" ")} ${opts.rawBody ?? JSON.stringify(opts.body) ?? ""}`;
  const res = await dispatch(request);
  tally.requests++;
  const counted = tally.byProperty[property];
  if (counted) {
    counted.requests++;
    counted.answers[res.status] = (counted.answers[res.status] ?? 0) + 1;
  }
  const label = `${method} ${path.slice(0, 200)} ${what}`.trim();
  const note = (kind: string) => {
    if (tally.examples.length < 20) {
      tally.examples.push({ property: `${property}: ${kind}`, request: sent.slice(0, 600), status: res.status, response: res.text.slice(0, 600) });
    }
  };
  if (res.status >= 500) {
    tally.fiveXX++;
    note("5xx");
  }
  const leaked = caller === "operator" ? [] : privateMarkers.filter((m) => res.text.includes(m) && !sent.includes(m));
  if (leaked.length) {
    tally.crossAccountReads++;
    note("cross-account read");
  }
  expect(res.status, `${label} -> ${res.status} ${res.text.slice(0, 300)}`).toBeLessThan(500);
  expect(leaked, `${label} showed another account's data`).toEqual([]);
  if (res.status >= 400) {
    expect(res.headers.get("content-type"), label).toContain("application/problem+json");
    expect(res.json?.status, label).toBe(res.status);
    expect(typeof res.json?.detail, label).toBe("string");
  }
  return res;
}

/** Rows that only a half-applied write could leave, and deliveries that cross accounts. */
const PARTIAL_ROWS: Record<string, string> = {
  subscriptions_without_account: "SELECT count(*) AS n FROM subscriptions s WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = s.account_id)",
  keys_without_account: "SELECT count(*) AS n FROM api_keys k WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = k.account_id)",
  events_without_account: "SELECT count(*) AS n FROM events WHERE account_id NOT IN (SELECT id FROM accounts)",
  deliveries_without_event: "SELECT count(*) AS n FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = d.event_id)",
  attempts_without_delivery: "SELECT count(*) AS n FROM attempts t WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = t.delivery_id)",
  // A delivery's account is its subscription's, live or deleted: one must say it, and be its event's.
  deliveries_across_accounts:
    "SELECT count(*) AS n FROM deliveries d JOIN events e ON e.id = d.event_id LEFT JOIN subscriptions s ON s.id = d.subscription_id " +
    "LEFT JOIN deleted_subscriptions x ON x.id = d.subscription_id WHERE coalesce(s.account_id, x.account_id, '') != e.account_id",
  subscriptions_without_secret: "SELECT count(*) AS n FROM subscriptions WHERE secret_enc IS NULL AND format != 'clara'",
  smartshape_without_token_hash: "SELECT count(*) AS n FROM subscriptions WHERE format = 'smartshape' AND derived_enc IS NULL",
  rollups_without_account: "SELECT count(*) AS n FROM attempt_rollups WHERE account_id NOT IN (SELECT id FROM accounts)",
};

export async function partialRows(): Promise<Record<string, number>> {
  const names = Object.keys(PARTIAL_ROWS);
  const results = await env.DB.batch(names.map((name) => env.DB.prepare(PARTIAL_ROWS[name])));
  return Object.fromEntries(names.map((name, i) => [name, (results[i].results[0] as { n: number }).n]));
}

export function report(partialRows: Record<string, number>) {
  return { ...tally, partialRows, partialRowsTotal: Object.values(partialRows).reduce((s, n) => s + n, 0) };
}
