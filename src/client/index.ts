/**
 * `hookline/client`: a typed client for Hookline's /v1 API. The types are generated
 * from the service's OpenAPI document (src/client/schema.d.ts, `npm run client:generate`)
 * and the calls go through openapi-fetch, so every path, parameter, body and answer is
 * checked by TypeScript against the routes' own schemas.
 *
 *   import { createHooklineClient, unwrap } from "hookline/client";
 *   const hookline = createHooklineClient({ url: "http://127.0.0.1:8787", apiKey: process.env.HOOKLINE_API_KEY! });
 *   const page = await unwrap(hookline.GET("/v1/subscriptions", { params: { query: { limit: 10 } } }));
 *
 * Runs wherever `fetch` does: Node 20, Workers, browsers.
 */
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths } from "./schema.js";

type Schemas = components["schemas"];
export type Problem = Schemas["Problem"];
export type Subscription = Schemas["Subscription"];
export type CreateSubscription = Schemas["CreateSubscription"];
export type UpdateSubscription = Schemas["UpdateSubscription"];
export type Event = Schemas["Event"];
export type EmitEvent = Schemas["EmitEvent"];
export type EmitResult = Schemas["EmitResult"];
export type Delivery = Schemas["Delivery"];
export type Attempt = Schemas["Attempt"];
export type TestResult = Schemas["TestResult"];
export type Account = Schemas["Account"];
export type EventType = Schemas["EventType"];
export type PortalLink = Schemas["PortalLink"];

export type HooklineClient = Client<paths>;

export interface HooklineClientOptions {
  /** The service's base url, e.g. https://hookline.example.com (default http://127.0.0.1:8787). */
  url?: string;
  /** An account's API key, or the operator's ADMIN_TOKEN, sent as `Authorization: Bearer`. */
  apiKey: string;
  /** Another fetch (a service binding's `fetch`, a test double). */
  fetch?: (request: Request) => Promise<Response>;
  /** More headers for every request. */
  headers?: Record<string, string>;
}

export const DEFAULT_URL = "http://127.0.0.1:8787";

export function createHooklineClient(options: HooklineClientOptions): HooklineClient {
  return createClient<paths>({
    baseUrl: (options.url ?? DEFAULT_URL).replace(/\/+$/, ""),
    headers: { ...options.headers, authorization: `Bearer ${options.apiKey}` },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
}

/** A refused call: the HTTP status and the problem body (RFC 9457) when the service sent one. */
export class HooklineApiError extends Error {
  readonly status: number;
  readonly problem: Problem | null;

  constructor(status: number, problem: Problem | null, fallback = "") {
    super(problem ? `${problem.title}: ${problem.detail}` : `HTTP ${status}${fallback ? `: ${fallback}` : ""}`);
    this.name = "HooklineApiError";
    this.status = status;
    this.problem = problem;
  }
}

const isProblem = (value: unknown): value is Problem =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as Problem).title === "string" &&
  typeof (value as Problem).status === "number";

/** The error for a failed answer, given its body as openapi-fetch parsed it. */
export function apiError(response: Response, body: unknown): HooklineApiError {
  if (isProblem(body)) return new HooklineApiError(response.status, { ...body, detail: body.detail ?? "" });
  const text = typeof body === "string" ? body : body === undefined ? "" : JSON.stringify(body);
  return new HooklineApiError(response.status, null, text.slice(0, 300));
}

/**
 * The answer's data, or a thrown HooklineApiError:
 * `const sub = await unwrap(client.GET("/v1/subscriptions/{id}", { params: { path: { id } } }))`.
 */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined) throw apiError(response, error);
  return data as T;
}
