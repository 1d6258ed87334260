/**
 * The SmartShape face (README "SmartShape users"): /webhook/ with Bearer
 * auth; one event per hook. The body is read as JSON whatever its Content-Type, since the
 * seed's curl sends JSON under curl's default form type. A hook is a `smartshape` subscription.
 */
import { z } from "@hono/zod-openapi";
import { ProblemError } from "../core/problem";
import { SMARTSHAPE_EVENTS } from "../core/seeds";
import type { SubscriptionRow } from "../db/schema";
import { createSubscription, deleteSubscription, findSubscription, listSubscriptions } from "../services/subscriptions";
import { type AppContext, createRouter, requireAccount, validationProblem } from "./context";
import { bodyText, parseJson } from "./faces";
import { errorResponses, json } from "./schemas";

const CreateHook = z
  .strictObject({
    event: z.enum(SMARTSHAPE_EVENTS, { error: `must be one of ${SMARTSHAPE_EVENTS.join(", ")}` }),
    url: z.string().min(1).max(2048),
    secretToken: z.string().min(1).max(256),
  })
  .openapi("SmartShapeCreateHook");

const SmartShapeHook = z.object({ _id: z.string(), event: z.string(), url: z.string() }).openapi("SmartShapeHook");

/** The seed's hook shape; the token is never echoed. */
export const serializeSmartShapeHook = (s: SubscriptionRow) => ({ _id: s.id, event: s.eventTypes[0], url: s.url });

/** The service's errors name its own fields (`secret`, `event_types.0`): name the ones this face's caller sent. */
function inFaceTerms(err: unknown): never {
  const rename = (path: string) => (path === "secret" ? "secretToken" : path.startsWith("event_types") ? "event" : path);
  if (err instanceof ProblemError && err.code === "validation" && err.errors) {
    const errors = err.errors.map((e) => ({ ...e, path: rename(e.path) }));
    throw new ProblemError(err.code, errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors, err.extra);
  }
  throw err;
}

async function create(c: AppContext) {
  const parsed = CreateHook.safeParse(parseJson(await bodyText(c)));
  if (!parsed.success) throw validationProblem(parsed.error);
  const { event, url, secretToken } = parsed.data;
  const { row } = await createSubscription(c.env, c.get("config"), requireAccount(c), {
    url,
    eventTypes: [event],
    subjects: null,
    description: "",
    format: "smartshape",
    headers: {},
    metadata: {},
    active: true,
    secret: secretToken,
  }).catch(inFaceTerms);
  return c.json(serializeSmartShapeHook(row), 200);
}

async function list(c: AppContext) {
  const rows = await listSubscriptions(c.env, requireAccount(c).id, "smartshape");
  return c.json(rows.map(serializeSmartShapeHook), 200);
}

async function remove(c: AppContext) {
  const row = await findSubscription(c.env, requireAccount(c).id, c.req.param("id")!, "smartshape");
  await deleteSubscription(c.env, row);
  return c.json(serializeSmartShapeHook(row), 200);
}

export const smartshapeRoutes = createRouter();
for (const path of ["/webhook", "/webhook/"]) smartshapeRoutes.put(path, create).get(path, list);
smartshapeRoutes.delete("/webhook/:id", remove).delete("/webhook/:id/", remove);

const doc = (method: "get" | "put" | "delete", path: string, summary: string) => ({
  method,
  path,
  tags: ["SmartShape"],
  security: [{ bearer: [] }],
  summary,
  ...(method === "put"
    ? { request: { body: { content: { "application/json": { schema: CreateHook } }, required: true } } }
    : {}),
  responses: { 200: json(method === "get" ? z.array(SmartShapeHook) : SmartShapeHook, "The hook(s)"), ...errorResponses },
});
smartshapeRoutes.openAPIRegistry.registerPath(doc("put", "/webhook/", "Create a hook for one event (JSON body, any Content-Type)"));
smartshapeRoutes.openAPIRegistry.registerPath(doc("get", "/webhook/", "List the account's SmartShape hooks"));
smartshapeRoutes.openAPIRegistry.registerPath(doc("delete", "/webhook/{id}", "Delete a hook"));
