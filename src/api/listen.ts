/** /v1/listen: the server side of `hookline webhook listen` (no tunnel, no public url). */
import { createRoute, z } from "@hono/zod-openapi";
import { and, eq } from "drizzle-orm";
import { idRegex } from "../core/ids";
import { PATTERN_REGEX } from "../core/matching";
import { notFound, ProblemError } from "../core/problem";
import { database } from "../db/client";
import { listenSessions } from "../db/schema";
import { LISTEN_KEY_HEADER, listenSessionOf } from "../delivery/listen";
import { openListenSession } from "../services/listen";
import { type AppContext, createRouter, requireAccount } from "./context";
import { errorResponses, FormatName, iso, json, jsonBody, security, Timestamp } from "./schemas";
import { Subscription, serializeSubscription } from "./subscriptions";

const OpenListen = z
  .strictObject({
    event_types: z.array(z.string().max(128).regex(PATTERN_REGEX, "must be an event type name or pattern")).min(1).max(20),
    format: FormatName.default("smartshape"),
    subjects: z.array(z.string().min(1).max(256)).max(100).nullable().optional(),
  })
  .openapi("OpenListen");

const ListenSession = z
  .object({
    id: z.string().openapi({ example: "lsn_6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f" }),
    subscriptions: z.array(Subscription),
    expires_at: Timestamp,
    lease_seconds: z.number().int(),
    connect_url: z.string(),
  })
  .openapi("ListenSession");

const SessionParam = z.object({ id: z.string().max(128).openapi({ param: { name: "id", in: "path" } }) });
const tags = ["Listen"];

/** The session if it belongs to the calling account (another's is a 404). */
async function ownedSession(c: AppContext, id: string) {
  const account = requireAccount(c);
  if (!idRegex("listenSession").test(id)) throw notFound("Listen session");
  const [row] = await database(c.env.DB)
    .select()
    .from(listenSessions)
    .where(and(eq(listenSessions.id, id), eq(listenSessions.accountId, account.id)));
  if (!row) throw notFound("Listen session");
  return row;
}

/** The API key the account called with: revoking it closes what it opened. */
function callerKeyId(c: AppContext): string {
  requireAccount(c); // the operator has no key, and no listen session
  const principal = c.get("principal");
  return principal.kind === "account" ? principal.keyId : "";
}

export const listenRoutes = createRouter();

listenRoutes
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/listen",
      tags,
      security,
      summary: "Open a listen session: temporary subscriptions delivered over a WebSocket",
      request: jsonBody(OpenListen),
      responses: { 201: json(ListenSession, "The session; connect to connect_url within its lease"), ...errorResponses },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const config = c.get("config");
      const session = await openListenSession(c.env, config, requireAccount(c), callerKeyId(c), {
        eventTypes: body.event_types,
        format: body.format,
        subjects: body.subjects ?? null,
      });
      return c.json(
        {
          id: session.id,
          subscriptions: session.rows.map(serializeSubscription),
          expires_at: iso(session.expiresAt)!,
          lease_seconds: config.listenLeaseSeconds,
          connect_url: `/v1/listen/${session.id}/connect`,
        },
        201,
      );
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/listen/{id}",
      tags,
      security,
      summary: "Close a listen session and delete its subscriptions (their log stays)",
      request: { params: SessionParam },
      responses: { 204: { description: "Closed" }, ...errorResponses },
    }),
    async (c) => {
      const session = await ownedSession(c, c.req.valid("param").id);
      await listenSessionOf(c.env, session.id).close();
      return c.body(null, 204);
    },
  )
  .get("/v1/listen/:id/connect", async (c) => {
    const session = await ownedSession(c, c.req.param("id"));
    if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
      throw new ProblemError("bad_request", "connect with a WebSocket (Upgrade: websocket)");
    }
    // The object closes the socket if this key is revoked: it is told which key (never by the client).
    const upgrade = new Request(c.req.raw);
    upgrade.headers.set(LISTEN_KEY_HEADER, callerKeyId(c));
    return listenSessionOf(c.env, session.id).fetch(upgrade);
  });

listenRoutes.openAPIRegistry.registerPath({
  method: "get",
  path: "/v1/listen/{id}/connect",
  tags,
  security,
  summary: "The session's WebSocket: deliveries arrive as JSON messages, each acknowledged by the listener",
  request: { params: SessionParam },
  responses: { 101: { description: "Switching protocols" }, ...errorResponses },
});
