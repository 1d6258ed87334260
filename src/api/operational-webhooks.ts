/** /v1/operational-webhooks: the operator's own endpoints, told what happens inside Hookline. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { EVENT_PATTERN_MESSAGE, SUBSCRIPTION_LIMITS } from "../core/limits";
import { PATTERN_REGEX } from "../core/matching";
import { OPERATIONAL_EVENT_TYPES, SYSTEM_ACCOUNT_ID } from "../core/operational";
import { database } from "../db/client";
import { allShards } from "../db/shards";
import { afterCursor, newestFirst, toPage } from "../db/pagination";
import { type SubscriptionRow, subscriptions } from "../db/schema";
import {
  createOperationalWebhook,
  findOperationalWebhook,
  replicateOperationalWebhooks,
  updateOperationalWebhook,
} from "../services/operational-webhooks";
import { deleteSubscription, readSecret, rotateSecret } from "../services/subscriptions";
import { type AppEnv, createRouter, requireOperator } from "./context";
import { DeliveryPage, DeliveryPageQuery, deliveriesPage } from "./deliveries";
import { errorResponses, idParam, iso, json, jsonBody, PageQuery, rotateSecretRoute, Timestamp, security } from "./schemas";

const EXAMPLE_ID = "opwh_5d0f3c2a-8b1e-4f6a-9c7d-2e4b6a8c0d1f";

export const OperationalWebhook = z
  .object({
    id: z.string().openapi({ example: EXAMPLE_ID }),
    url: z.string().openapi({ example: "https://ops.example.com/hookline" }),
    event_types: z.array(z.string()).openapi({ example: ["subscription.*", "delivery.failed"] }),
    description: z.string(),
    active: z.boolean(),
    consecutive_failures: z.number().int(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("OperationalWebhook");

const L = SUBSCRIPTION_LIMITS;
const fields = {
  url: z.string().min(1).max(L.url),
  event_types: z
    .array(z.string().max(L.eventType).regex(PATTERN_REGEX, EVENT_PATTERN_MESSAGE))
    .min(1)
    .max(OPERATIONAL_EVENT_TYPES.length)
    .openapi({ description: `Among ${OPERATIONAL_EVENT_TYPES.join(", ")}, or a pattern such as subscription.* or *` }),
  description: z.string().max(L.description),
  active: z.boolean(),
};

const CreateOperationalWebhook = z
  .strictObject({
    ...fields,
    description: fields.description.optional(),
    active: fields.active.optional(),
    secret: z.string().max(L.secret).optional().openapi({ description: "whsec_ and base64; generated when not given" }),
  })
  .openapi("CreateOperationalWebhook");

const UpdateOperationalWebhook = z
  .strictObject({
    url: fields.url.optional(),
    event_types: fields.event_types.optional(),
    description: fields.description.optional(),
    active: fields.active.optional(),
  })
  .openapi("UpdateOperationalWebhook");

const Secret = z.object({ secret: z.string() }).openapi("OperationalWebhookSecret");
const RotateSecret = z.strictObject({ secret: z.string().max(L.secret).optional() }).openapi("RotateOperationalWebhookSecret");

const serialize = (s: SubscriptionRow) => ({
  id: s.id,
  url: s.url,
  event_types: s.eventTypes,
  description: s.description,
  active: s.active,
  consecutive_failures: s.consecutiveFailures,
  created_at: iso(s.createdAt)!,
  updated_at: iso(s.updatedAt)!,
});

const IdParam = idParam("OperationalWebhookId", EXAMPLE_ID);
const tags = ["Operational webhooks"];
const PATH = "/v1/operational-webhooks";

/** Before any lookup or body check: an account's key learns nothing here. */
export const operatorOnly = createMiddleware<AppEnv>(async (c, next) => {
  requireOperator(c);
  await next();
});

export const operationalWebhookRoutes = createRouter();
operationalWebhookRoutes.use(PATH, operatorOnly);
operationalWebhookRoutes.use(`${PATH}/*`, operatorOnly);

operationalWebhookRoutes
  .openapi(
    createRoute({
      method: "post",
      path: PATH,
      tags,
      security,
      summary: "Subscribe an endpoint of the operator to operational events (operator); the answer carries its secret",
      request: jsonBody(CreateOperationalWebhook),
      responses: {
        201: json(OperationalWebhook.extend({ secret: z.string() }), "The operational webhook and its signing secret"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const { row, secret } = await createOperationalWebhook(c.env, c.get("config"), {
        url: body.url,
        eventTypes: body.event_types,
        description: body.description ?? "",
        active: body.active ?? true,
        secret: body.secret,
      });
      await replicateOperationalWebhooks(c.env);
      return c.json({ ...serialize(row), secret }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: PATH,
      tags,
      security,
      summary: "List the operational webhooks, newest first (operator)",
      request: { query: PageQuery },
      responses: {
        200: json(z.object({ data: z.array(OperationalWebhook), next_cursor: z.string().nullable() }), "A page"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const rows = await database(c.env.DB)
        .select()
        .from(subscriptions)
        .where(and(eq(subscriptions.accountId, SYSTEM_ACCOUNT_ID), afterCursor(subscriptions.createdAt, subscriptions.id, cursor)))
        .orderBy(...newestFirst(subscriptions.createdAt, subscriptions.id))
        .limit(limit + 1);
      const page = toPage(rows, limit);
      return c.json({ data: page.rows.map(serialize), next_cursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: `${PATH}/{id}`,
      tags,
      security,
      summary: "Read an operational webhook (operator)",
      request: { params: IdParam },
      responses: { 200: json(OperationalWebhook, "The operational webhook"), ...errorResponses },
    }),
    async (c) => c.json(serialize(await findOperationalWebhook(c.env, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: `${PATH}/{id}`,
      tags,
      security,
      summary: "Change its url, event types, description, or pause it with active: false (operator)",
      request: { params: IdParam, ...jsonBody(UpdateOperationalWebhook) },
      responses: { 200: json(OperationalWebhook, "The operational webhook"), ...errorResponses },
    }),
    async (c) => {
      const current = await findOperationalWebhook(c.env, c.req.valid("param").id);
      const body = c.req.valid("json");
      const row = await updateOperationalWebhook(c.env, c.get("config"), current, {
        url: body.url,
        eventTypes: body.event_types,
        description: body.description,
        active: body.active,
      });
      await replicateOperationalWebhooks(c.env);
      return c.json(serialize(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: `${PATH}/{id}`,
      tags,
      security,
      summary: "Delete an operational webhook (operator); its log stays until retention",
      request: { params: IdParam },
      responses: { 204: { description: "Deleted" }, ...errorResponses },
    }),
    async (c) => {
      await deleteSubscription(c.env, await findOperationalWebhook(c.env, c.req.valid("param").id));
      await replicateOperationalWebhooks(c.env);
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: `${PATH}/{id}/secret`,
      tags,
      security,
      summary: "Read its signing secret (operator)",
      request: { params: IdParam },
      responses: { 200: json(Secret, "The secret"), ...errorResponses },
    }),
    async (c) => {
      const row = await findOperationalWebhook(c.env, c.req.valid("param").id);
      return c.json({ secret: (await readSecret(c.get("config"), row)) ?? "" }, 200);
    },
  )
  .openapi(
    rotateSecretRoute({ path: `${PATH}/{id}/rotate-secret`, tags, summary: "Replace its secret; the old one keeps signing too for 24 h (operator)", params: IdParam, body: RotateSecret, secret: Secret }),
    async (c) => {
      const row = await findOperationalWebhook(c.env, c.req.valid("param").id);
      const body = c.req.valid("json") ?? {};
      const rotated = await rotateSecret(c.env, c.get("config"), row, body.secret);
      await replicateOperationalWebhooks(c.env);
      return c.json({ secret: rotated.secret, previous_secret_expires_at: iso(rotated.previousSecretExpiresAt) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: `${PATH}/{id}/deliveries`,
      tags,
      security,
      summary: "Its delivery log, newest first (operator); GET /v1/deliveries/{id} shows a delivery's attempts",
      request: { params: IdParam, query: DeliveryPageQuery },
      responses: {
        200: json(DeliveryPage, "A page"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const hook = await findOperationalWebhook(c.env, c.req.valid("param").id);
      return c.json(await deliveriesPage(allShards(c.env), hook.id, c.req.valid("query")), 200);
    },
  );
