/** Portal links and portal sessions (README "Embedding the dashboard"): the operator's side. */
import { createRoute, z } from "@hono/zod-openapi";
import { notFound } from "../core/problem";
import { PORTAL_PAGES } from "../dashboard/paths";
import { createPortalLink, PORTAL_LINK_TTL_DEFAULT, PORTAL_LINK_TTL_MAX, revokePortalAccess } from "../services/portal";
import { createRouter, requireOperator } from "./context";
import { errorResponses, iso, json, Timestamp, security } from "./schemas";

const AccountParam = z.object({ id: z.string().max(128).openapi({ param: { name: "id", in: "path" } }) });

const CreatePortalLink = z
  .strictObject({
    ttl_seconds: z
      .number()
      .int("must be a whole number of seconds")
      .min(1, "must be at least 1")
      .max(PORTAL_LINK_TTL_MAX, `must be at most ${PORTAL_LINK_TTL_MAX} (24 hours)`)
      .optional()
      .openapi({ description: `How long the link can be redeemed (default ${PORTAL_LINK_TTL_DEFAULT}: 10 minutes)`, example: 600 }),
  })
  .openapi("CreatePortalLink");

const PortalLink = z
  .object({
    url: z.string().openapi({
      description: "Signs its holder into the account's dashboard, once; shown once (only a hash is stored)",
      example: "https://hooks.example.com/dashboard/portal/1Xq0…",
    }),
    expires_at: Timestamp,
  })
  .openapi("PortalLink");

const RevokedPortalAccess = z
  .object({
    sessions_ended: z.number().int().openapi({ description: "Portal sessions that were still open" }),
    links_revoked: z.number().int().openapi({ description: "Links not yet used, and not expired, that no longer work" }),
  })
  .openapi("RevokedPortalAccess");

const tags = ["Accounts"];

export const portalRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/accounts/{id}/portal-links",
      tags,
      security,
      summary: "Create a one-time link into the account's dashboard, without an API key (operator)",
      request: {
        params: AccountParam,
        body: { content: { "application/json": { schema: CreatePortalLink } }, required: false },
      },
      responses: { 201: json(PortalLink, "The link, shown once"), ...errorResponses },
    }),
    async (c) => {
      requireOperator(c);
      const ttl = (c.req.valid("json") ?? {}).ttl_seconds ?? PORTAL_LINK_TTL_DEFAULT;
      const link = await createPortalLink(c.env, c.req.valid("param").id, ttl);
      if (!link) throw notFound("Account");
      const url = `${new URL(c.req.url).origin}${PORTAL_PAGES}/${link.token}`;
      return c.json({ url, expires_at: iso(link.expiresAt)! }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/accounts/{id}/portal-sessions",
      tags,
      security,
      summary: "End the account's portal sessions and revoke its unused portal links (operator)",
      request: { params: AccountParam },
      responses: { 200: json(RevokedPortalAccess, "What was ended"), ...errorResponses },
    }),
    async (c) => {
      requireOperator(c);
      const revoked = await revokePortalAccess(c.env, c.req.valid("param").id);
      if (!revoked) throw notFound("Account");
      return c.json({ sessions_ended: revoked.sessionsEnded, links_revoked: revoked.linksRevoked }, 200);
    },
  );
