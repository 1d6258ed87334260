/** /v1/events: emit (operator) and read the event log (operator, or the owning account). */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gte, sql } from "drizzle-orm";
import { notFound } from "../core/problem";
import { database } from "../db/client";
import { eventKeyOf } from "../db/event-keys";
import { afterCursor, newestFirst, toPage } from "../db/pagination";
import { deliveries, events } from "../db/schema";
import { allShards, findOnShards, homeOf } from "../db/shards";
import { deliveryColumns } from "../delivery/lifecycle";
import { emitEvents } from "../services/emit";
import { EmitBody, EmitResult } from "../services/emit-schema";
import { type AppContext, createRouter, requireOperator } from "./context";
import { Delivery, Event, serializeDelivery, serializeEvent } from "./log-schemas";
import { jsonWithRaw } from "./raw-json";
import { errorResponses, json, jsonBody, PageQuery, security } from "./schemas";

const tags = ["Events"];

const ListQuery = PageQuery.extend({
  type: z.string().max(128).optional(),
  subject: z.string().max(256).optional(),
  since: z.iso.datetime({ offset: true }).optional().openapi({ description: "Only events created at or after" }),
  account_id: z.string().max(128).optional().openapi({ description: "Operator only: one account's events" }),
});

/**
 * An event's deliveries, found without an index on event_id: through its account's subscriptions,
 * deleted ones included, each at the event's created_at (deliveries_subscription), which every
 * delivery of the event shares: the fan-out creates them in the statement after the event's, with
 * the same time. A few index lookups per subscription of the account.
 */
const ofEvent = (id: string) => {
  const event = (column: string) => sql`(SELECT ${sql.raw(column)} FROM events WHERE id = ${eventKeyOf(id)})`;
  return and(
    eq(deliveries.eventId, id),
    sql`${deliveries.createdAt} = ${event("created_at")}`,
    sql`${deliveries.subscriptionId} IN (SELECT id FROM subscriptions WHERE account_id = ${event("account_id")}
      UNION ALL SELECT id FROM deleted_subscriptions WHERE account_id = ${event("account_id")})`,
  );
};

/** The operator sees every account's events; an account only its own. */
function accountScope(c: AppContext, requested?: string): string | undefined {
  const principal = c.get("principal");
  return principal.kind === "account" ? principal.account.id : requested;
}

export const eventRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/events",
      tags,
      security,
      summary: "Emit one event or up to 100 (operator); validated whole",
      request: {
        headers: z.object({ "idempotency-key": z.string().min(1).max(256).optional() }),
        ...jsonBody(EmitBody),
      },
      responses: {
        202: json(EmitResult, "Stored, one entry per event in order; deliveries queued"),
        ...errorResponses,
      },
    }),
    async (c) => {
      requireOperator(c);
      const body = c.req.valid("json");
      const batch = "events" in body;
      const { body: answer, replayed } = await emitEvents(c.env, c.get("config"), batch ? body.events : [body], {
        batch,
        idempotencyKey: c.req.valid("header")["idempotency-key"],
      });
      if (replayed) c.header("Idempotent-Replayed", "true");
      return c.json(answer, 202);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events",
      tags,
      security,
      summary: "List events, newest first",
      request: { query: ListQuery },
      responses: {
        200: json(z.object({ data: z.array(Event), next_cursor: z.string().nullable() }), "A page"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const account = accountScope(c, q.account_id);
      const pageOf = (env: Env) =>
        database(env.DB)
          .select()
          .from(events)
          .where(
            and(
              account ? eq(events.accountId, account) : undefined,
              q.type ? eq(events.type, q.type) : undefined,
              q.subject ? eq(events.subject, q.subject) : undefined,
              q.since ? gte(events.createdAt, Date.parse(q.since)) : undefined,
              afterCursor(events.createdAt, events.id, q.cursor),
            ),
          )
          .orderBy(...newestFirst(events.createdAt, events.id))
          .limit(q.limit + 1);
      // One account's events are on its shard; the operator's list of all is every shard's, merged
      // (the cursor is a point in the global order, so each shard's page starts at it).
      const rows = account
        ? await pageOf(c.get("principal").kind === "account" ? c.env : await homeOf(c.env, account, { fresh: true }))
        : (await Promise.all(allShards(c.env).map(pageOf)))
            .flat()
            .sort((a, b) => b.createdAt - a.createdAt || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
            // An account being moved has its events on two shards for a while: each once.
            .filter((e, i, list) => i === 0 || list[i - 1].id !== e.id)
            .slice(0, q.limit + 1);
      const page = toPage(rows, q.limit);
      return jsonWithRaw(c, { data: page.rows.map(serializeEvent), next_cursor: page.nextCursor }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/events/{id}",
      tags,
      security,
      summary: "Read an event with its deliveries",
      request: { params: z.object({ id: z.string().max(128).openapi({ param: { name: "id", in: "path" } }) }) },
      responses: {
        200: json(Event.extend({ deliveries: z.array(Delivery) }), "The event"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const id = c.req.valid("param").id;
      const account = accountScope(c);
      const read = async (env: Env) => {
        const db = database(env.DB);
        const [found, its] = await db.batch([
          db
            .select()
            .from(events)
            .where(and(eq(events.id, id), account ? eq(events.accountId, account) : undefined)),
          db.select(deliveryColumns()).from(deliveries).where(ofEvent(id)).orderBy(asc(deliveries.createdAt)),
        ]);
        return found[0] ? { event: found[0], its } : null;
      };
      // An account reads its own shard; the operator asks every shard.
      const hit = account ? await read(c.env) : (await findOnShards(c.env, read, (h) => h.event.accountId))?.value;
      if (!hit) throw notFound("Event");
      return jsonWithRaw(c, { ...serializeEvent(hit.event), deliveries: hit.its.map(serializeDelivery) }, 200);
    },
  );
