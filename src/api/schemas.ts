/** Schemas shared by the /v1 routes: one chain from zod to the OpenAPI document. */
import { createRoute, z } from "@hono/zod-openapi";
import { planNames } from "../config";
import { formatNames } from "../core/formats";

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  content: { "application/problem+json": { schema: Problem } },
  description,
});

/** The error answers every authenticated route may give. */
export const errorResponses = {
  400: problem("Malformed request"),
  401: problem("Missing or wrong credentials"),
  403: problem("Not allowed for these credentials"),
  404: problem("No such resource (or another account's)"),
  409: problem("Conflicts with the current state"),
  413: problem("Body too large"),
  415: problem("Body is not JSON"),
  422: problem("Invalid fields"),
} as const;

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  content: { "application/json": { schema } },
  description,
});

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  body: { content: { "application/json": { schema } }, required: true },
});

export const Timestamp = z.string().openapi({ format: "date-time", example: "2026-11-23T12:00:00.000Z" });
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const PageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50).openapi({ example: 50 }),
  cursor: z.string().max(512).optional(),
});

export const listOf = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() }).openapi(name);

export const PlanName = z.enum(planNames);
export const FormatName = z.enum(formatNames);

export const idParam = (name: string, example: string) =>
  z.object({ id: z.string().max(128).openapi({ param: { name: "id", in: "path" }, example }) }).openapi(name);

/** Object keys and values for headers and metadata. */
export const StringMap = z.record(z.string().max(256), z.string().max(4096));

/** Security requirements for the OpenAPI document. */
export const security: Array<Record<string, string[]>> = [{ bearer: [] }, { basic: [] }];

/**
 * `POST {path}` (a `.../{id}/rotate-secret`): subscriptions and operational webhooks answer it
 * alike, each with its own named schemas.
 */
export const rotateSecretRoute = <B extends z.ZodType, S extends z.ZodObject>(o: {
  path: string;
  tags: string[];
  summary: string;
  params: ReturnType<typeof idParam>;
  body: B;
  secret: S;
}) =>
  createRoute({
    method: "post",
    path: o.path,
    tags: o.tags,
    security,
    summary: o.summary,
    request: {
      params: o.params,
      body: { content: { "application/json": { schema: o.body } }, required: false },
    },
    responses: {
      200: json(o.secret.extend({ previous_secret_expires_at: Timestamp.nullable() }), "The new secret, and until when the previous one still signs"),
      ...errorResponses,
    },
  });
