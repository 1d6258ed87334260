/** Unauthenticated routes: health for scripts and harnesses to poll. */
import { createRoute, z } from "@hono/zod-openapi";
import { sql } from "drizzle-orm";
import { ProblemError } from "../core/problem";
import { database } from "../db/client";
import { allShards } from "../db/shards";
import { metricsOn, readCounters, setSweepClock } from "../metrics";
import { createRouter, requireOperator } from "./context";
import { json, Problem } from "./schemas";

export const systemRoutes = createRouter().openapi(
  createRoute({
    method: "get",
    path: "/health",
    tags: ["System"],
    summary: "200 once every D1 database (control and each shard) answers",
    responses: {
      200: json(z.object({ ok: z.literal(true) }), "Healthy"),
      503: { content: { "application/problem+json": { schema: Problem } }, description: "D1 does not answer" },
    },
  }),
  async (c) => {
    const answers = await Promise.allSettled(allShards(c.env).map((s) => database(s.DB).run(sql`SELECT 1`)));
    const down = answers.flatMap((a, i) => (a.status === "rejected" ? [i] : []));
    if (down.length) {
      throw new ProblemError("unavailable", `the database of shard ${down.join(", ")} does not answer${down.includes(0) ? " (shard 0 is also the control database)" : ""}`);
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
