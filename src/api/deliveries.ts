/** The delivery log and the tools over it: test, redeliver, recover. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, sql } from "drizzle-orm";
import { idRegex } from "../core/ids";
import { notFound, ProblemError } from "../core/problem";
import { database } from "../db/client";
import { control, findOnShards } from "../db/shards";
import { afterCursor, newestFirst, toPage } from "../db/pagination";
import { accounts, attempts, deliveries } from "../db/schema";
import { frozenProblem, isFrozen } from "../delivery/account-move";
import { attemptsOf } from "../delivery/attempt-log";
import { deliveryAccountSql, deliveryColumns, deliveryOfAccount, deliveryStatusIs } from "../delivery/lifecycle";
import { recover, redeliver, sendTestEvent } from "../services/redelivery";
import { findSubscription } from "../services/subscriptions";
import { type AppContext, createRouter, requireAccount } from "./context";
import { Attempt, Delivery, DeliveryStatus, serializeAttempt, serializeDelivery } from "./log-schemas";
import { errorResponses, idParam, json, PageQuery, security } from "./schemas";

const tags = ["Deliveries"];
const SubscriptionId = idParam("SubscriptionIdParam", "sub_2f1c7e8a-4b1d-4c55-9a0e-3f2b9c8d7e6f");
const DeliveryId = idParam("DeliveryId", "dlv_7c9e6679-7425-40de-944b-e07fc1f90ae7");

const TestResult = z
  .object({
    success: z.boolean(),
    status_code: z.number().int().nullable(),
    duration_ms: z.number().int(),
    response_body: z.string().nullable(),
    error: z.string().nullable(),
    event_id: z.string(),
    delivery_id: z.string(),
  })
  .openapi("TestResult");

const Recover = z
  .strictObject({
    since: z.iso.datetime({ offset: true }),
    until: z.iso.datetime({ offset: true }).optional(),
  })
  .openapi("Recover");

/** A delivery the caller may see: the operator any, an account its own (another's is a 404). */
async function visibleDelivery(c: AppContext, id: string) {
  if (!idRegex("delivery").test(id)) throw notFound("Delivery");
  const principal = c.get("principal");
  const read = async (env: Env) => {
    const [row] = await database(env.DB)
      // Whose it is: the account's own, known; for the operator, its subscription's account.
      .select({
        ...deliveryColumns(),
        accountId: principal.kind === "account" ? sql<string | null>`${principal.account.id}` : deliveryAccountSql(sql`${deliveries}`),
      })
      .from(deliveries)
      .where(and(eq(deliveries.id, id), principal.kind === "account" ? deliveryOfAccount(principal.account.id) : undefined));
    return row ?? null;
  };
  // An account's deliveries are on its shard; the operator's may be on any.
  const hit = principal.kind === "account" ? { value: await read(c.env), shard: c.env } : await findOnShards(c.env, read, (d) => d.accountId);
  if (!hit?.value) throw notFound("Delivery");
  return { row: hit.value, env: hit.shard };
}

export const DeliveryPageQuery = PageQuery.extend({ status: DeliveryStatus.optional() });
export const DeliveryPage = z.object({ data: z.array(Delivery), next_cursor: z.string().nullable() });

/**
 * A page of one subscription's delivery log, newest first: what every log route of a subscription
 * answers. An operational webhook's log is on every shard (its copies fan out there): pass them
 * all, and their pages are merged (the cursor is a point in the global order).
 */
export async function deliveriesPage(env: Env | Env[], subscriptionId: string, q: z.infer<typeof DeliveryPageQuery>) {
  const pageOf = (shard: Env) =>
    database(shard.DB)
      .select(deliveryColumns())
      .from(deliveries)
      .where(
        and(
          eq(deliveries.subscriptionId, subscriptionId),
          q.status ? deliveryStatusIs(q.status) : undefined,
          afterCursor(deliveries.createdAt, deliveries.id, q.cursor),
        ),
      )
      .orderBy(...newestFirst(deliveries.createdAt, deliveries.id))
      .limit(q.limit + 1);
  const rows = Array.isArray(env)
    ? (await Promise.all(env.map(pageOf)))
        .flat()
        .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
        .slice(0, q.limit + 1)
    : await pageOf(env);
  const page = toPage(rows, q.limit);
  return { data: page.rows.map(serializeDelivery), next_cursor: page.nextCursor };
}

export const deliveryRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/subscriptions/{id}/deliveries",
      tags,
      security,
      summary: "A subscription's deliveries, newest first",
      request: { params: SubscriptionId, query: DeliveryPageQuery },
      responses: {
        200: json(DeliveryPage, "A page"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const sub = await findSubscription(c.env, requireAccount(c).id, c.req.valid("param").id);
      return c.json(await deliveriesPage(c.env, sub.id, c.req.valid("query")), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/deliveries/{id}",
      tags,
      security,
      summary: "A delivery with its attempts",
      request: { params: DeliveryId },
      responses: { 200: json(Delivery.extend({ attempts: z.array(Attempt) }), "The delivery"), ...errorResponses },
    }),
    async (c) => {
      const { row: delivery, env } = await visibleDelivery(c, c.req.valid("param").id);
      const rows = await database(env.DB)
        .select()
        .from(attempts)
        .where(eq(attempts.deliveryId, delivery.id))
        .orderBy(asc(attempts.number));
      return c.json({ ...serializeDelivery(delivery), attempts: attemptsOf(delivery, rows).map(serializeAttempt) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/deliveries/{id}/redeliver",
      tags,
      security,
      summary: "Send a finished delivery again: a fresh series of attempts, same webhook-id",
      request: { params: DeliveryId },
      responses: {
        202: json(Delivery, "Queued"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { row: delivery, env } = await visibleDelivery(c, c.req.valid("param").id);
      // The operator's redelivery waits, like the account's own writes (api/auth), while a move freezes the account.
      const [owner] =
        c.get("principal").kind === "operator" && delivery.accountId !== null
          ? await database(control(c.env)).select().from(accounts).where(eq(accounts.id, delivery.accountId))
          : [];
      if (owner && isFrozen(owner)) throw frozenProblem(owner);
      return c.json(serializeDelivery(await redeliver(env, delivery)), 202);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/subscriptions/{id}/recover",
      tags,
      security,
      summary: "Redeliver every failed or skipped delivery since a time",
      request: {
        params: SubscriptionId,
        body: { content: { "application/json": { schema: Recover } }, required: true },
      },
      responses: {
        202: json(z.object({ deliveries: z.number().int() }), "How many were queued again (at most 1000 a call)"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const sub = await findSubscription(c.env, requireAccount(c).id, c.req.valid("param").id);
      const { since, until } = c.req.valid("json");
      const from = Date.parse(since);
      const to = until ? Date.parse(until) : Date.now() + 1;
      if (to <= from) throw new ProblemError("validation", "until must be after since", [{ path: "until", message: "must be after since" }]);
      return c.json({ deliveries: await recover(c.env, sub, from, to) }, 202);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/subscriptions/{id}/test",
      tags,
      security,
      summary: "Send a test event now and see what the endpoint answered",
      request: { params: SubscriptionId },
      responses: { 200: json(TestResult, "The outcome"), ...errorResponses },
    }),
    async (c) => {
      const sub = await findSubscription(c.env, requireAccount(c).id, c.req.valid("param").id);
      return c.json(await sendTestEvent(c.env, c.get("config"), sub), 200);
    },
  );
