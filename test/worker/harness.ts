/** Calls the Worker as a client would, and seeds what tests need through the API itself. */
import { exports } from "cloudflare:workers";
import { expect } from "vitest";

export const ADMIN = "test-admin-token";
export const BASE = "http://hookline.test";

/** Well-formed ids that name nothing: a missing resource must answer like another account's. */
export const MISSING_ACCOUNT_ID = "acct_00000000-0000-4000-8000-000000000000";
export const MISSING_SUBSCRIPTION_ID = "sub_00000000-0000-4000-8000-000000000000";

export interface CallOptions {
  token?: string | null;
  basic?: [string, string];
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export async function call(method: string, path: string, opts: CallOptions = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.basic) headers.authorization = "Basic " + btoa(`${opts.basic[0]}:${opts.basic[1]}`);
  else if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? ADMIN}`;
  let body: string | undefined = opts.rawBody;
  if (opts.body !== undefined) {
    body = JSON.stringify(opts.body);
    headers["content-type"] ??= "application/json";
  }
  return readAnswer(await exports.default.fetch(new Request(BASE + path, { method, headers, body })));
}

/** A response as tests read it: status, headers, the text, and the JSON when the text is JSON. */
export async function readAnswer(res: Response) {
  const text = await res.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** Asserts a problem body of the given status, and returns it. */
export function expectProblem(res: Awaited<ReturnType<typeof call>>, status: number) {
  expect(res.status, res.text).toBe(status);
  expect(res.headers.get("content-type")).toContain("application/problem+json");
  expect(res.json).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  expect(res.json.type).toMatch(/^https:\/\//);
  return res.json as { type: string; title: string; status: number; detail: string; errors?: { path: string; message: string }[] };
}

let counter = 0;
export async function createAccount(plan?: "pro" | "business") {
  const name = `acct-${Date.now().toString(36)}-${counter++}`;
  const res = await call("POST", "/v1/accounts", { body: { name, email: `${name}@example.com`, ...(plan ? { plan } : {}) } });
  expect(res.status, res.text).toBe(201);
  return { id: res.json.id as string, name, key: res.json.api_key.key as string, account: res.json };
}

export async function createSubscription(key: string, body: Record<string, unknown> = {}) {
  const res = await call("POST", "/v1/subscriptions", {
    token: key,
    body: { url: "https://example.com/hook", event_types: ["document.updated"], ...body },
  });
  expect(res.status, res.text).toBe(201);
  return res.json;
}

/** Every item of a paginated list, following next_cursor (and checking each page's size). */
export async function listAll(path: string, token: string | undefined, limit: number) {
  const items: any[] = [];
  const pages: number[] = [];
  let cursor: string | null = null;
  for (let i = 0; i < 1000; i++) {
    const sep = path.includes("?") ? "&" : "?";
    const url = `${path}${sep}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const res = await call("GET", url, { token });
    expect(res.status, res.text).toBe(200);
    expect(res.json.data.length).toBeLessThanOrEqual(limit);
    items.push(...res.json.data);
    pages.push(res.json.data.length);
    cursor = res.json.next_cursor;
    if (cursor === null) return { items, pages };
  }
  throw new Error(`${path} never ended`);
}
