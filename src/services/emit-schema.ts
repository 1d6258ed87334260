/** The shape of an emitted event: one schema for the REST route, the RPC entrypoint and OpenAPI. */
import { z } from "@hono/zod-openapi";
import { EVENT_TYPE_NAME } from "../core/event-type-name";
import { notTooDeep, TOO_DEEP_MESSAGE } from "../core/json-depth";
import { SYSTEM_ACCOUNT_ID } from "../core/operational";

export const MAX_BATCH = 100;
export const MAX_DATA_BYTES = 256 * 1024;

export const EmitEvent = z
  .strictObject({
    account_id: z
      .string()
      .max(128)
      .refine((id) => id !== SYSTEM_ACCOUNT_ID, "no such account") // operational events are Hookline's own
      .openapi({ example: "acct_0b7c0ad6-3c39-4a35-8d1f-6f1f2a1e4c2b" }),
    type: z.string().max(128).regex(EVENT_TYPE_NAME, "must be an event type name").openapi({ example: "document.updated" }),
    subject: z.string().min(1).max(256).nullable().optional().openapi({ description: "The resource the event is about" }),
    data: z
      .unknown()
      .refine((v) => v !== undefined, "required")
      .refine(notTooDeep, TOO_DEEP_MESSAGE)
      .openapi({ example: { id: "d1a2b3c4", title: "Q3 plan" } }),
    timestamp: z.iso.datetime({ offset: true }).optional().openapi({ description: "Event time (default: now)" }),
    idempotency_key: z.string().min(1).max(256).optional(),
  })
  .openapi("EmitEvent");

export const EmitBody = z
  .union([EmitEvent, z.strictObject({ events: z.array(EmitEvent).min(1).max(MAX_BATCH, `at most ${MAX_BATCH} events in one call`) })])
  .openapi("EmitRequest");

export type EmitEventInput = z.infer<typeof EmitEvent>;

export const EmitResult = z
  .object({ data: z.array(z.object({ id: z.string(), deliveries: z.number().int() })) })
  .openapi("EmitResult");
export type EmitResultBody = z.infer<typeof EmitResult>;
