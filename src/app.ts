/** The Hono app: every face mounted, one error handler, the OpenAPI document. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { accountRoutes } from "./api/accounts";
import { requireAuth } from "./api/auth";
import type { AppEnv } from "./api/context";
import { onError, problemResponse } from "./api/errors";
import { claraRoutes } from "./api/clara";
import { deliveryRoutes } from "./api/deliveries";
import { eventTypeRoutes } from "./api/event-types";
import { eventRoutes } from "./api/events";
import { listenRoutes } from "./api/listen";
import { jsonOnly, limitBody, refuseCrossSite, withConfig } from "./api/middleware";
import { portalRoutes } from "./api/portal";
import { subscriptionRoutes } from "./api/subscriptions";
import { smartshapeRoutes } from "./api/smartshape";
import { statsRoutes } from "./api/stats";
import { metricsRoutes, systemRoutes } from "./api/system";
import { problemBody } from "./core/problem";
import { dashboardRoutes } from "./dashboard";

export function createApp() {
  const app = new OpenAPIHono<AppEnv>();
  app.onError(onError);
  app.notFound((c) => problemResponse(problemBody("not_found", `no route for ${c.req.method} ${new URL(c.req.url).pathname}`)));

  app.use("*", withConfig);
  app.route("/", systemRoutes);
  app.use("/__metrics", refuseCrossSite, requireAuth);
  app.route("/", metricsRoutes);

  app.use("/v1/*", refuseCrossSite, limitBody, requireAuth, jsonOnly);
  app.route("/", accountRoutes);
  app.route("/", portalRoutes);
  app.route("/", eventTypeRoutes);
  app.route("/", subscriptionRoutes);
  app.route("/", eventRoutes);
  app.route("/", deliveryRoutes);
  app.route("/", listenRoutes);
  app.route("/", statsRoutes);

  // The seed systems' faces: same auth, same body cap, their own body formats.
  app.use("/api/*", refuseCrossSite, limitBody, requireAuth);
  app.use("/webhook", refuseCrossSite, limitBody, requireAuth);
  app.use("/webhook/*", refuseCrossSite, limitBody, requireAuth);
  app.route("/", claraRoutes);
  app.route("/", smartshapeRoutes);

  // The dashboard: HTML pages and forms, its own session auth (src/dashboard).
  app.use("/dashboard/*", limitBody);
  app.route("/dashboard", dashboardRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", {
    type: "http",
    scheme: "bearer",
    description: "ADMIN_TOKEN for the operator, or an account's API key",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "basic", {
    type: "http",
    scheme: "basic",
    description: "<account name>:<api key>",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "Hookline",
      version: "1.0.0",
      description: "Webhook delivery on Cloudflare Workers. Errors are application/problem+json (RFC 9457).",
    },
  });
  app.get("/", (c) => c.redirect("/docs/"));
  return app;
}

export const app = createApp();
