/** /v1/subscriptions: the account's endpoints, in any format. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { EVENT_PATTERN_MESSAGE, SUBSCRIPTION_LIMITS } from "../core/limits";
import { MAX_RATE, MIN_RATE } from "../core/throttle";
import { PATTERN_REGEX } from "../core/matching";
import { database } from "../db/client";
import { afterCursor, newestFirst, toPage } from "../db/pagination";
import { type SubscriptionRow, subscriptions } from "../db/schema";
import {
  createSubscription,
  deleteSubscription,
  findSubscription,
  readSecret,
  rotateSecret,
  updateSubscription,
} from "../services/subscriptions";
import { type AppContext, createRouter, requireAccount } from "./context";
import { errorResponses, FormatName, idParam, iso, json, jsonBody, PageQuery, StringMap, rotateSecretRoute, Timestamp, security } from "./schemas";

const RATE_MESSAGE = `must be a whole number of deliveries a second from ${MIN_RATE} to ${MAX_RATE}, or null for no limit`;
const ThrottleRate = z
  .number(RATE_MESSAGE)
  .int(RATE_MESSAGE)
  .min(MIN_RATE, RATE_MESSAGE)
  .max(MAX_RATE, RATE_MESSAGE)
  .nullable()
  .openapi({
    description:
      "Deliveries sent a second at most to this endpoint; the rest wait and go later, none dropped and none counted as failed. Null: no limit.",
    example: 10,
  });

export const Subscription = z
  .object({
    id: z.string().openapi({ example: "sub_2f1c7e8a-4b1d-4c55-9a0e-3f2b9c8d7e6f" }),
    url: z.string().openapi({ example: "https://example.com/webhooks" }),
    event_types: z.array(z.string()).openapi({ example: ["document.*"] }),
    subjects: z.array(z.string()).nullable(),
    description: z.string(),
    format: FormatName,
    headers: z.record(z.string(), z.string()),
    metadata: z.record(z.string(), z.string()),
    active: z.boolean(),
    disabled_reason: z.string().nullable(),
    disabled_at: Timestamp.nullable(),
    consecutive_failures: z.number().int(),
    throttle_rate: ThrottleRate,
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Subscription");

const Secret = z.object({ secret: z.string().nullable() }).openapi("SubscriptionSecret");

const L = SUBSCRIPTION_LIMITS;
const fields = {
  url: z.string().min(1).max(L.url),
  event_types: z
    .array(z.string().max(L.eventType).regex(PATTERN_REGEX, EVENT_PATTERN_MESSAGE))
    .min(1)
    .max(L.eventTypes),
  subjects: z.array(z.string().min(1).max(L.subject)).max(L.subjects).nullable(),
  description: z.string().max(L.description),
  active: z.boolean(),
  secret: z.string().max(L.secret),
  format: FormatName,
  headers: StringMap,
  metadata: StringMap,
  throttle_rate: ThrottleRate,
};

const CreateSubscription = z
  .strictObject({
    ...fields,
    subjects: fields.subjects.optional(),
    description: fields.description.optional(),
    active: fields.active.optional(),
    secret: fields.secret.optional(),
    format: fields.format.optional(),
    headers: fields.headers.optional(),
    metadata: fields.metadata.optional(),
    throttle_rate: fields.throttle_rate.optional(),
  })
  .openapi("CreateSubscription");

const UpdateSubscription = z
  .strictObject(Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, v.optional()])) as {
    [K in keyof typeof fields]: z.ZodOptional<(typeof fields)[K]>;
  })
  .openapi("UpdateSubscription");

const RotateSecret = z.strictObject({ secret: fields.secret.optional() }).openapi("RotateSecret");

export function serializeSubscription(s: SubscriptionRow) {
  return {
    id: s.id,
    url: s.url,
    event_types: s.eventTypes,
    subjects: s.subjects ?? null,
    description: s.description,
    format: s.format as z.infer<typeof FormatName>,
    headers: s.headers,
    metadata: s.metadata,
    active: s.active,
    disabled_reason: s.disabledReason,
    disabled_at: iso(s.disabledAt),
    consecutive_failures: s.consecutiveFailures,
    throttle_rate: s.throttleRate,
    created_at: iso(s.createdAt)!,
    updated_at: iso(s.updatedAt)!,
  };
}

const IdParam = idParam("SubscriptionId", "sub_2f1c7e8a-4b1d-4c55-9a0e-3f2b9c8d7e6f");
const tags = ["Subscriptions"];

const owned = (c: AppContext, id: string) => findSubscription(c.env, requireAccount(c).id, id);

export const subscriptionRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/subscriptions",
      tags,
      security,
      summary: "Create a subscription; the answer carries its signing secret",
      request: jsonBody(CreateSubscription),
      responses: {
        201: json(Subscription.extend({ secret: z.string().nullable() }), "The subscription and its secret"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const account = requireAccount(c);
      const body = c.req.valid("json");
      const { row, secret } = await createSubscription(c.env, c.get("config"), account, {
        url: body.url,
        eventTypes: body.event_types,
        subjects: body.subjects ?? null,
        description: body.description ?? "",
        format: body.format ?? "standard",
        headers: body.headers ?? {},
        metadata: body.metadata ?? {},
        active: body.active ?? true,
        secret: body.secret,
        throttleRate: body.throttle_rate ?? null,
      });
      return c.json({ ...serializeSubscription(row), secret }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/subscriptions",
      tags,
      security,
      summary: "List the account's subscriptions, newest first",
      request: { query: PageQuery },
      responses: {
        200: json(z.object({ data: z.array(Subscription), next_cursor: z.string().nullable() }), "A page"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const account = requireAccount(c);
      const { limit, cursor } = c.req.valid("query");
      const rows = await database(c.env.DB)
        .select()
        .from(subscriptions)
        .where(
          and(eq(subscriptions.accountId, account.id), afterCursor(subscriptions.createdAt, subscriptions.id, cursor)),
        )
        .orderBy(...newestFirst(subscriptions.createdAt, subscriptions.id))
        .limit(limit + 1);
      const page = toPage(rows, limit);
      return c.json({ data: page.rows.map(serializeSubscription), next_cursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/subscriptions/{id}",
      tags,
      security,
      summary: "Read a subscription",
      request: { params: IdParam },
      responses: { 200: json(Subscription, "The subscription"), ...errorResponses },
    }),
    async (c) => c.json(serializeSubscription(await owned(c, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/subscriptions/{id}",
      tags,
      security,
      summary: "Change any field; `active: true` also clears a disabled state",
      request: { params: IdParam, ...jsonBody(UpdateSubscription) },
      responses: { 200: json(Subscription, "The subscription"), ...errorResponses },
    }),
    async (c) => {
      const current = await owned(c, c.req.valid("param").id);
      const body = c.req.valid("json");
      const { row } = await updateSubscription(c.env, c.get("config"), current, {
        url: body.url,
        eventTypes: body.event_types,
        subjects: body.subjects,
        description: body.description,
        format: body.format,
        headers: body.headers,
        metadata: body.metadata,
        active: body.active,
        secret: body.secret,
        throttleRate: body.throttle_rate,
      });
      return c.json(serializeSubscription(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/subscriptions/{id}",
      tags,
      security,
      summary: "Delete a subscription (its log stays until retention)",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errorResponses },
    }),
    async (c) => {
      await deleteSubscription(c.env, await owned(c, c.req.valid("param").id));
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/subscriptions/{id}/secret",
      tags,
      security,
      summary: "Read the signing secret",
      request: { params: IdParam },
      responses: { 200: json(Secret, "The secret"), ...errorResponses },
    }),
    async (c) => {
      const row = await owned(c, c.req.valid("param").id);
      return c.json({ secret: await readSecret(c.get("config"), row) }, 200);
    },
  )
  .openapi(
    rotateSecretRoute({ path: "/v1/subscriptions/{id}/rotate-secret", tags, summary: "Replace the secret (standard keeps signing with the old one too for 24 h)", params: IdParam, body: RotateSecret, secret: Secret }),
    async (c) => {
      const row = await owned(c, c.req.valid("param").id);
      const body = c.req.valid("json") ?? {};
      const rotated = await rotateSecret(c.env, c.get("config"), row, body.secret);
      return c.json({ secret: rotated.secret, previous_secret_expires_at: iso(rotated.previousSecretExpiresAt) }, 200);
    },
  );
