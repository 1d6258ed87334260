/** Events, deliveries and attempts as the API shows them (documented in /openapi.json). */
import { z } from "@hono/zod-openapi";
import { DELIVERY_STATUSES, dueAt } from "../core/delivery-state";
import type { AttemptRow, DeliveryRow, EventRow } from "../db/schema";
import { raw } from "./raw-json";
import { iso, Timestamp } from "./schemas";

export const Event = z
  .object({
    id: z.string().openapi({ example: "evt_5b1f0c3e-2d7a-4f6e-9c8b-1a2b3c4d5e6f" }),
    account_id: z.string(),
    type: z.string(),
    subject: z.string().nullable(),
    data: z.unknown(),
    timestamp: Timestamp,
    created_at: Timestamp,
  })
  .openapi("Event");

export const DeliveryStatus = z.enum(DELIVERY_STATUSES);

export const Delivery = z
  .object({
    id: z.string().openapi({ example: "dlv_7c9e6679-7425-40de-944b-e07fc1f90ae7" }),
    event_id: z.string(),
    subscription_id: z.string(),
    status: DeliveryStatus,
    attempts_count: z.number().int(),
    next_attempt_at: Timestamp.nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Delivery");

export const Attempt = z
  .object({
    id: z.string(),
    number: z.number().int(),
    started_at: Timestamp,
    duration_ms: z.number().int(),
    outcome: z.enum(["success", "http_status", "timeout", "network"]),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    response_headers: z.record(z.string(), z.string()).nullable(),
    response_body: z.string().nullable(),
  })
  .openapi("Attempt");

export const serializeEvent = (e: EventRow) => ({
  id: e.id,
  account_id: e.accountId,
  type: e.type,
  subject: e.subject,
  data: raw(e.data),
  timestamp: iso(e.timestamp)!,
  created_at: iso(e.createdAt)!,
});

export const serializeDelivery = (d: DeliveryRow) => ({
  id: d.id,
  event_id: d.eventId,
  subscription_id: d.subscriptionId,
  status: d.status,
  attempts_count: d.attemptsCount,
  next_attempt_at: iso(dueAt(d)),
  created_at: iso(d.createdAt)!,
  updated_at: iso(d.updatedAt)!,
});

export const serializeAttempt = (a: AttemptRow) => ({
  id: a.id,
  number: a.number,
  started_at: iso(a.startedAt)!,
  duration_ms: a.durationMs,
  outcome: a.outcome,
  status_code: a.statusCode,
  error: a.error,
  response_headers: a.responseHeaders ?? null,
  response_body: a.responseBody,
});
