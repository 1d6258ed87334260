/// <reference types="node" />
/**
 * Starts the real service for an end-to-end test file: wrangler dev through the one
 * launcher, on a free port, with a fresh state directory and test-only secrets.
 * Hermetic: neither .dev.vars nor the shell's variables reach it, only `vars`; and it
 * registers in a dev registry of its own (inside the state directory), so it never
 * replaces the entry of a Hookline someone runs with `npm start` on the same machine.
 * Workers that bind to it (startWorker) are given `devRegistry`.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startHookline, type Hookline, type StartOptions } from "../../scripts/launcher.mjs";

export const ADMIN_TOKEN = "e2e-admin-token";
export const SECRETS_KEY = "q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=";

export interface CallOptions {
  /** Bearer token; default the operator's; null sends no Authorization. */
  token?: string | null;
  basic?: [string, string];
  body?: unknown;
  rawBody?: string;
  headers?: Record<string, string>;
}

export interface ApiResponse {
  status: number;
  headers: Headers;
  json: any;
  text: string;
}

export interface Service {
  url: string;
  adminToken: string;
  stateDir: string;
  /** wrangler's local dev registry of this run (WRANGLER_REGISTRY_PATH): pass it to startWorker to bind to Hookline. */
  devRegistry: string;
  /** The launcher's handle: pid (process group), sweep(), kill(), output(). */
  hookline: Hookline;
  api(method: string, path: string, opts?: CallOptions): Promise<ApiResponse>;
  /** Fires the cron sweep now. */
  sweep(): Promise<number>;
  /**
   * The event's first delivery once it is no longer pending or in flight, with its attempts,
   * read as `token` (default the operator).
   */
  settledDelivery(eventId: string, token?: string, timeoutMs?: number): Promise<any>;
  /** Stops every process of the run, frees the port and deletes the state directory. */
  stop(): Promise<void>;
}

/**
 * E2E_SHARDS=<n> runs the files against n data shards (`.ci/run` runs a subset of them so), and
 * every account a test creates goes to the last shard unless the test names one: what the test
 * checks then runs on a shard other than the control database.
 */
export const E2E_SHARDS = Number(process.env.E2E_SHARDS || 1);

function onLastShard(method: string, path: string, body: unknown): unknown {
  const isObject = typeof body === "object" && body !== null && !Array.isArray(body);
  if (E2E_SHARDS <= 1 || method !== "POST" || path !== "/v1/accounts" || !isObject || "shard" in body) return body;
  return { ...body, shard: E2E_SHARDS - 1 };
}

export async function startService(
  vars: Record<string, string | undefined> = {},
  options: Pick<StartOptions, "sweepIntervalMs" | "readyTimeoutMs" | "quiet"> = {},
): Promise<Service> {
  const stateDir = mkdtempSync(join(tmpdir(), "hookline-e2e-"));
  const devRegistry = join(stateDir, "dev-registry");
  let hookline: Hookline;
  try {
    hookline = await startHookline({
      port: await freePort(),
      stateDir,
      vars: { ADMIN_TOKEN, SECRETS_KEY, ALLOW_INSECURE_TARGETS: "true", ...(E2E_SHARDS > 1 ? { SHARDS: String(E2E_SHARDS) } : {}), ...vars },
      devVars: false,
      inheritEnv: false,
      quiet: options.quiet ?? !process.env.E2E_VERBOSE,
      sweepIntervalMs: options.sweepIntervalMs ?? 60_000,
      readyTimeoutMs: options.readyTimeoutMs,
      devRegistry,
    });
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  const url = hookline.url;
  const adminToken = vars.ADMIN_TOKEN ?? ADMIN_TOKEN;

  async function api(method: string, path: string, opts: CallOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...opts.headers };
    if (opts.basic) headers.authorization = "Basic " + Buffer.from(`${opts.basic[0]}:${opts.basic[1]}`).toString("base64");
    else if (opts.token !== null) headers.authorization = `Bearer ${opts.token ?? adminToken}`;
    let body = opts.rawBody;
    if (opts.body !== undefined) {
      body = JSON.stringify(onLastShard(method, path, opts.body));
      headers["content-type"] ??= "application/json";
    }
    const res = await fetch(url + path, { method, headers, body, redirect: "manual" });
    const text = await res.text();
    let json: any = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: res.status, headers: res.headers, json, text };
  }

  return {
    url,
    adminToken,
    stateDir,
    devRegistry,
    hookline,
    api,
    sweep: () => hookline.sweep(),
    async settledDelivery(eventId, token, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const event = await api("GET", `/v1/events/${eventId}`, { token });
        if (event.status !== 200) throw new Error(`GET /v1/events/${eventId}: ${event.status} ${event.text}`);
        const [d] = event.json.deliveries as { id: string; status: string }[];
        if (d && !["pending", "in_flight"].includes(d.status)) {
          const detail = await api("GET", `/v1/deliveries/${d.id}`, { token });
          if (detail.status !== 200) throw new Error(`GET /v1/deliveries/${d.id}: ${detail.status}`);
          return detail.json;
        }
        if (Date.now() > deadline) throw new Error(`delivery of ${eventId} never settled`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async stop() {
      try {
        await hookline.stop();
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}
