/**
 * The Clara.io face (README "Clara.io users"): /api/webhooks with Basic
 * `<account name>:<api key>`, bodies as JSON or forms. A hook is a `clara` subscription:
 * its jobTypes x statuses are event types `<jobType>.<status>`, its scenes the subjects.
 */
import { z } from "@hono/zod-openapi";
import { CLARA_ALL_SCENES, CLARA_JOB_TYPES, CLARA_STATUSES, claraEventTypes, claraFilters } from "../core/seeds";
import { type FieldError, ProblemError } from "../core/problem";
import type { SubscriptionRow } from "../db/schema";
import {
  createSubscription,
  deleteSubscription,
  findSubscription,
  listSubscriptions,
  updateSubscription,
} from "../services/subscriptions";
import { type AppContext, createRouter, requireAccount, validationProblem } from "./context";
import { formBoolean, formList, readJsonOrForm } from "./faces";
import { errorResponses, json } from "./schemas";

/** A form or JSON list of names, read as a set: a repeated name counts once. */
const names = (v: unknown) => {
  const listed = formList(v);
  return Array.isArray(listed) ? [...new Set(listed)] : listed;
};
const list = z.preprocess(names, z.array(z.string().min(1).max(64)).min(1).max(100));
const fields = {
  url: z.string().min(1).max(2048),
  jobTypes: list,
  statuses: list,
  scenes: z.preprocess(names, z.array(z.string().min(1).max(256)).min(1).max(100)),
  active: z.preprocess(formBoolean, z.boolean()),
  secret: z.string().max(256),
};
const CreateHook = z.strictObject({
  ...fields,
  scenes: fields.scenes.optional(),
  active: fields.active.optional(),
  secret: fields.secret.optional(),
});
const UpdateHook = z.strictObject({
  url: fields.url.optional(),
  jobTypes: fields.jobTypes.optional(),
  statuses: fields.statuses.optional(),
  scenes: fields.scenes.optional(),
  active: fields.active.optional(),
  secret: fields.secret.optional(),
});

const ClaraHook = z
  .object({
    _id: z.string(),
    url: z.string(),
    jobTypes: z.array(z.string()),
    statuses: z.array(z.string()),
    scenes: z.array(z.string()),
    active: z.boolean(),
  })
  .openapi("ClaraHook");

/** The seed's hook shape; the secret is never echoed. */
export function serializeClaraHook(s: SubscriptionRow) {
  return {
    _id: s.id,
    url: s.url,
    ...claraFilters(s.eventTypes),
    scenes: s.subjects ?? [CLARA_ALL_SCENES],
    active: s.active,
  };
}

function unknownNames(path: string, given: readonly string[] | undefined, known: readonly string[]): FieldError[] {
  const unknown = (given ?? []).filter((v) => !known.includes(v));
  return unknown.length
    ? [{ path, message: `unknown: ${unknown.join(", ")} (one of ${known.join(", ")})` }]
    : [];
}

async function readHook<T extends z.ZodType>(c: AppContext, schema: T): Promise<z.infer<T>> {
  const parsed = schema.safeParse(await readJsonOrForm(c));
  if (!parsed.success) throw validationProblem(parsed.error);
  const body = parsed.data as { jobTypes?: string[]; statuses?: string[] };
  const errors = [
    ...unknownNames("jobTypes", body.jobTypes, CLARA_JOB_TYPES),
    ...unknownNames("statuses", body.statuses, CLARA_STATUSES),
  ];
  if (errors.length) throw new ProblemError("validation", errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors);
  return parsed.data;
}

const subjectsOf = (scenes: string[] | undefined) =>
  scenes === undefined || scenes.includes(CLARA_ALL_SCENES) ? null : scenes;
const secretOf = (secret: string | undefined) => (secret === "" ? null : secret);

const owned = (c: AppContext) => findSubscription(c.env, requireAccount(c).id, c.req.param("id")!, "clara");

const doc = (method: "get" | "post" | "put" | "delete", path: string, summary: string, withBody = false) => ({
  method,
  path,
  tags: ["Clara.io"],
  security: [{ basic: [] }],
  summary,
  ...(withBody
    ? {
        request: {
          body: {
            content: {
              "application/json": { schema: method === "post" ? CreateHook : UpdateHook },
              "application/x-www-form-urlencoded": { schema: z.record(z.string(), z.unknown()) },
              "multipart/form-data": { schema: z.record(z.string(), z.unknown()) },
            },
          },
        },
      }
    : {}),
  responses: {
    200: json(path.endsWith("webhooks") && method === "get" ? z.array(ClaraHook) : ClaraHook, "The hook(s)"),
    ...errorResponses,
  },
});

export const claraRoutes = createRouter();
claraRoutes.openAPIRegistry.registerPath(doc("post", "/api/webhooks", "Create a Clara hook", true));
claraRoutes.openAPIRegistry.registerPath(doc("get", "/api/webhooks", "List the account's Clara hooks"));
claraRoutes.openAPIRegistry.registerPath(doc("put", "/api/webhooks/{id}", "Change a Clara hook (partial)", true));
claraRoutes.openAPIRegistry.registerPath(doc("delete", "/api/webhooks/{id}", "Delete a Clara hook"));

claraRoutes
  .post("/api/webhooks", async (c) => {
    const account = requireAccount(c);
    const body = await readHook(c, CreateHook);
    const { row } = await createSubscription(c.env, c.get("config"), account, {
      url: body.url,
      eventTypes: claraEventTypes(body.jobTypes, body.statuses),
      subjects: subjectsOf(body.scenes),
      description: "",
      format: "clara",
      headers: {},
      metadata: {},
      active: body.active ?? true,
      secret: secretOf(body.secret),
    });
    return c.json(serializeClaraHook(row), 200);
  })
  .get("/api/webhooks", async (c) => {
    const rows = await listSubscriptions(c.env, requireAccount(c).id, "clara");
    return c.json(rows.map(serializeClaraHook), 200);
  })
  .put("/api/webhooks/:id", async (c) => {
    const current = await owned(c);
    const body = await readHook(c, UpdateHook);
    const filters = claraFilters(current.eventTypes);
    const retarget = body.jobTypes !== undefined || body.statuses !== undefined;
    const { row } = await updateSubscription(c.env, c.get("config"), current, {
      url: body.url,
      eventTypes: retarget ? claraEventTypes(body.jobTypes ?? filters.jobTypes, body.statuses ?? filters.statuses) : undefined,
      subjects: body.scenes === undefined ? undefined : subjectsOf(body.scenes),
      active: body.active,
      secret: body.secret === undefined ? undefined : secretOf(body.secret),
    });
    return c.json(serializeClaraHook(row), 200);
  })
  .delete("/api/webhooks/:id", async (c) => {
    const current = await owned(c);
    await deleteSubscription(c.env, current);
    return c.json(serializeClaraHook(current), 200);
  });

