/** Endpoint health at a glance: a subscription's stats (its account) and every account's (the operator). */
import { createRoute, z } from "@hono/zod-openapi";
import { idRegex } from "../core/ids";
import { notFound } from "../core/problem";
import { operatorStats, subscriptionStats } from "../services/stats";
import { createRouter, requireAccount, requireOperator } from "./context";
import { errorResponses, idParam, json, security, Timestamp } from "./schemas";

const tags = ["Stats"];

const Window = z
  .object({
    from: Timestamp.openapi({ description: "Start of the oldest whole UTC hour counted; the window runs from it to now" }),
    attempts: z.number().int(),
    succeeded: z.number().int(),
    failed: z.number().int(),
    success_rate: z.number().nullable().openapi({ description: "succeeded / attempts (4 places); null without attempts", example: 0.9875 }),
    deliveries_failed: z.number().int().openapi({ description: "Deliveries whose series of attempts ended failed in the window" }),
    p50_ms: z.number().int().nullable().openapi({ description: "Median attempt duration, from a histogram: within its bucket (at most 1.5x wide)" }),
    p95_ms: z.number().int().nullable().openapi({ description: "95th percentile attempt duration, as p50_ms" }),
  })
  .openapi("StatsWindow");

const Windows = { hour: Window, day: Window, week: Window };

const Hour = z
  .object({
    hour: Timestamp,
    attempts: z.number().int(),
    succeeded: z.number().int(),
    http_status: z.number().int().openapi({ description: "Failed: the endpoint answered a status that is not a success" }),
    timeout: z.number().int(),
    network: z.number().int(),
  })
  .openapi("StatsHour");

const SubscriptionStats = z
  .object({
    subscription_id: z.string(),
    ...Windows,
    hourly: z.array(Hour).openapi({ description: "The last 24 UTC hours, oldest first, the current one last" }),
  })
  .openapi("SubscriptionStats");

const WindowName = z.enum(["hour", "day", "week"]);

const OperatorStats = z
  .object({
    ...Windows,
    most_failing: z.object({
      window: WindowName,
      from: Timestamp,
      subscriptions: z.array(
        z.object({
          subscription_id: z.string(),
          account_id: z.string(),
          target_host: z.string().nullable().openapi({ description: "The host of the subscription's url (not its path)" }),
          active: z.boolean(),
          consecutive_failures: z.number().int(),
          attempts: z.number().int(),
          failed: z.number().int(),
          success_rate: z.number().nullable(),
          deliveries_failed: z.number().int(),
        }),
      ),
    }),
    backlog: z.object({
      pending: z.number().int().openapi({ description: "Deliveries waiting for an attempt (due now or retrying later)" }),
      due: z.number().int().openapi({ description: "Pending deliveries whose next attempt is due now" }),
      in_flight: z.number().int(),
      oldest_pending_at: Timestamp.nullable().openapi({ description: "When the oldest pending delivery was created" }),
      oldest_pending_age_seconds: z.number().int().nullable(),
    }),
  })
  .openapi("OperatorStats");

const OperatorQuery = z.object({
  top: z.coerce.number().int().min(1).max(100).default(10).openapi({ description: "How many failing subscriptions to list" }),
  window: WindowName.default("day").openapi({ description: "The window they are ranked over, by failed attempts" }),
});

export const statsRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/subscriptions/{id}/stats",
      tags,
      security,
      summary: "The subscription's attempts, success rate, failed deliveries and durations over the last hour, day and week",
      request: { params: idParam("SubscriptionStatsId", "sub_2f1c7e8a-4b1d-4c55-9a0e-3f2b9c8d7e6f") },
      responses: { 200: json(SubscriptionStats, "Its stats, from hourly rollups"), ...errorResponses },
    }),
    async (c) => {
      const account = requireAccount(c);
      const { id } = c.req.valid("param");
      if (!idRegex("subscription").test(id)) throw notFound("Subscription");
      return c.json(await subscriptionStats(c.env, account.id, id), 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/stats",
      tags,
      security,
      summary: "Every account's figures, the most failing subscriptions and the delivery backlog (operator)",
      request: { query: OperatorQuery },
      responses: { 200: json(OperatorStats, "The service's stats"), ...errorResponses },
    }),
    async (c) => {
      requireOperator(c);
      const { top, window } = c.req.valid("query");
      return c.json(await operatorStats(c.env, { top, rankWindow: window }), 200);
    },
  );
