/** Unauthenticated routes: health for scripts and harnesses to poll. */
import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { ProblemError } from "../core/problem";
import { database } from "../db/client";
import { metricsOn, readCounters, setSweepClock } from "../metrics";
import { createRouter, requireOperator } from "./context";
import { json, Problem } from "./schemas";

export const systemRoutes = createRouter().openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags: ["System"],
    summary: "200 once D1 answers",
    responses: {
      200: json(z.object({ ok: z.literal(true) }), "Healthy"),
      503: { content: { "application/problem+json": { schema: Problem } }, description: "D1 does not answer" },
    },
  }),
  async (c) => {
    try {
      await database(c.env.DB).run(sql`SELECT 1`);
    } catch {
      throw new ProblemError("unavailable", "the database does not answer");
    }
    return c.json({ ok: true as const }, 200);
  },
);

/** Metrics mode only (METRICS=1), for the operator: what the code counted, optionally reset; the sweep's clock. */
export const metricsRoutes = createRouter().get("/__metrics", (c) => {
  requireOperator(c);
  if (!metricsOn(c.env)) throw new ProblemError("not_found", "metrics mode is off (start with METRICS=1)");
  const at = c.req.query("sweep_at");
  if (at !== undefined) {
    if (!/^\d{1,15}$/.test(at)) throw new ProblemError("validation", "sweep_at must be a time in milliseconds");
    setSweepClock(Number(at));
  }
  return c.json(readCounters(c.req.query("reset") === "1"));
});
