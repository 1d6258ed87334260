/**
 * Operational webhooks, without I/O: the reserved account that owns them, the event types
 * they take, and which subscriptions are never their subject.
 */
import { idPrefixes } from "./ids";

/**
 * The system account (migration 0007): it owns the operator's operational webhooks. It has no
 * API key, and every route that takes an account id answers 404 for it.
 */
export const SYSTEM_ACCOUNT_ID = "acct_35a78c64-1eb1-4a86-a13a-c363891d7776";

export const OPERATIONAL_EVENT_TYPES = [
  "subscription.created",
  "subscription.updated",
  "subscription.deleted",
  "subscription.enabled",
  "subscription.disabled",
  "subscription.failing",
  "delivery.failed",
] as const;

export type OperationalEventType = (typeof OPERATIONAL_EVENT_TYPES)[number];

/** An operational webhook is a subscription of the system account whose id starts with `opwh_`. */
export const isOperationalWebhookId = (subscriptionId: string) => subscriptionId.startsWith(idPrefixes.operationalWebhook);

/** Consecutive failures at which `subscription.failing` is sent: half of DEACTIVATE_AFTER, rounded up (never when 0). */
export const failingThreshold = (deactivateAfter: number): number | null =>
  deactivateAfter > 0 ? Math.ceil(deactivateAfter / 2) : null;

/** What an operational event says of an attempt. */
export interface AttemptSummary {
  outcome: "success" | "http_status" | "timeout" | "network";
  statusCode: number | null;
  error: string | null;
  startedAt: number;
  /** The attempt went to a `webhook listen` session: its subscription is never the subject of operational events. */
  listen?: boolean;
}

export const serializeAttemptSummary = (a: AttemptSummary | undefined) =>
  a === undefined
    ? null
    : { outcome: a.outcome, status_code: a.statusCode, error: a.error, started_at: new Date(a.startedAt).toISOString() };
