/**
 * /dashboard: clarife's Settings > API for every account, plus the delivery log.
 * Server-rendered pages and plain forms (POST, then a 303 redirect), working without
 * JavaScript. Sign-in exchanges an API key for a signed session cookie; every POST is
 * checked for its origin and its CSRF token. Changes go through src/services, exactly
 * the operations the /v1 API calls.
 *
 * This file only wires the parts together; the order matters: the guards run before
 * every route, and routes match in the order they are added (`/subscriptions/new`
 * before `/subscriptions/:id`, the catch-all last).
 */
import { Hono } from "hono";
import { ProblemError } from "../core/problem";
import type { DashEnv } from "./context";
import { deliveryRoutes } from "./delivery-routes";
import { checkRequest, errorPage, loadSession, securityHeaders } from "./guards";
import { portalRoutes } from "./portal-routes";
import { sessionRoutes } from "./session-routes";
import { subscriptionRoutes } from "./subscription-routes";

export type { DashboardSession } from "./context";

export const dashboardRoutes = new Hono<DashEnv>();

dashboardRoutes.onError(errorPage);
dashboardRoutes.use("*", securityHeaders);
dashboardRoutes.use("*", loadSession);
dashboardRoutes.use("*", checkRequest);

dashboardRoutes.route("/", sessionRoutes);
dashboardRoutes.route("/", portalRoutes);
dashboardRoutes.route("/", subscriptionRoutes);
dashboardRoutes.route("/", deliveryRoutes);

dashboardRoutes.all("*", () => {
  throw new ProblemError("not_found", "There is no such page in the dashboard.");
});
