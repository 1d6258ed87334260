/**
 * Configuration, validated once per isolate from the Worker's bindings
 * (README "Configuration"). Plans live here: a deployment changes them in one place.
 */
export const plans = {
  pro: { maxSubscriptions: 3 },
  business: { maxSubscriptions: 20 },
} as const;

export type PlanName = keyof typeof plans;
export const planNames = Object.keys(plans) as [PlanName, ...PlanName[]];
export const DEFAULT_PLAN: PlanName = "pro";

export interface Config {
  adminToken: string;
  secretsKey: string;
  allowInsecureTargets: boolean;
  retrySchedule: number[];
  deactivateAfter: number;
  deliveryTimeoutMs: number;
  logRetentionDays: number;
  listenLeaseSeconds: number;
  /** Origins that may frame the dashboard (CSP frame-ancestors); empty: none may. */
  portalFrameAncestors: string[];
}

/** `webhook listen` sessions an account may hold at once (their subscriptions do not count toward the plan). */
export const MAX_LISTEN_SESSIONS = 3;

const cache = new WeakMap<object, Config>();

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got "${raw}"`);
  return n;
}

export function parseRetrySchedule(raw: string | undefined): number[] {
  if (raw === undefined || raw.trim() === "") return [1, 10, 60];
  const delays = raw.split(",").map((s) => Number(s.trim()));
  if (delays.some((d) => !Number.isFinite(d) || d < 0)) {
    throw new Error(`RETRY_SCHEDULE must be comma-separated seconds, got "${raw}"`);
  }
  return delays;
}

/** `scheme://host[:port]`, the host possibly `*.`-prefixed: what CSP frame-ancestors takes as an origin. */
const FRAME_ANCESTOR = /^https?:\/\/(\*\.)?([a-z0-9-]+\.)*[a-z0-9-]+(:\d{1,5})?$/i;

export function parseFrameAncestors(raw: string | undefined): string[] {
  const origins = (raw ?? "").split(/[\s,]+/).filter(Boolean).map((o) => o.replace(/\/$/, ""));
  const bad = origins.find((o) => !FRAME_ANCESTOR.test(o));
  if (bad !== undefined) {
    throw new Error(`PORTAL_FRAME_ANCESTORS must be origins such as https://app.example.com, separated by spaces or commas; got "${bad}"`);
  }
  return [...new Set(origins.map((o) => o.toLowerCase()))];
}

export function loadConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  if (!env.ADMIN_TOKEN) throw new Error("ADMIN_TOKEN is not set (wrangler secret put ADMIN_TOKEN)");
  if (!env.SECRETS_KEY) throw new Error("SECRETS_KEY is not set (wrangler secret put SECRETS_KEY)");
  const config: Config = {
    adminToken: env.ADMIN_TOKEN,
    secretsKey: env.SECRETS_KEY,
    allowInsecureTargets: env.ALLOW_INSECURE_TARGETS === "true" || env.ALLOW_INSECURE_TARGETS === "1",
    retrySchedule: parseRetrySchedule(env.RETRY_SCHEDULE),
    deactivateAfter: positiveInt("DEACTIVATE_AFTER", env.DEACTIVATE_AFTER, 10),
    deliveryTimeoutMs: positiveInt("DELIVERY_TIMEOUT_MS", env.DELIVERY_TIMEOUT_MS, 10_000),
    logRetentionDays: positiveInt("LOG_RETENTION_DAYS", env.LOG_RETENTION_DAYS, 30),
    listenLeaseSeconds: positiveInt("LISTEN_LEASE_SECONDS", env.LISTEN_LEASE_SECONDS, 60),
    portalFrameAncestors: parseFrameAncestors(env.PORTAL_FRAME_ANCESTORS),
  };
  cache.set(env, config);
  return config;
}
