/** The deployment-wide event-type catalog. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, asc, eq, gt } from "drizzle-orm";
import { notTooDeep, TOO_DEEP_MESSAGE } from "../core/json-depth";
import { schemaErrors, schemaProblem } from "../core/json-schema";
import { notFound, ProblemError } from "../core/problem";
import { database, isUniqueViolation } from "../db/client";
import { type EventTypeRow, eventTypes } from "../db/schema";
import { control } from "../db/shards";
import { replicateEventType } from "../services/catalog";
import { createRouter, requireOperator } from "./context";
import { jsonWithRaw, raw } from "./raw-json";
import { errorResponses, iso, json, jsonBody, Timestamp, security } from "./schemas";

import { EVENT_TYPE_NAME } from "../core/event-type-name";

const EventType = z
  .object({
    name: z.string().openapi({ example: "document.updated" }),
    description: z.string(),
    schema: z.record(z.string(), z.unknown()).nullable(),
    example: z.unknown().nullable(),
    deprecated: z.boolean(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("EventType");

const JsonSchema = z
  .record(z.string(), z.unknown())
  .refine(notTooDeep, TOO_DEEP_MESSAGE)
  .openapi({ description: "A JSON Schema (2020-12) for `data`" });
const Example = z.unknown().refine(notTooDeep, TOO_DEEP_MESSAGE);
const CreateEventType = z
  .strictObject({
    name: z.string().max(128).regex(EVENT_TYPE_NAME, "must look like resource.action (letters, digits, _ and dots)"),
    description: z.string().max(1024).default(""),
    schema: JsonSchema.optional(),
    example: Example.optional(),
    deprecated: z.boolean().optional(),
  })
  .openapi("CreateEventType");
const UpdateEventType = z
  .strictObject({
    description: z.string().max(1024).optional(),
    schema: JsonSchema.nullable().optional(),
    example: Example.optional(),
    deprecated: z.boolean().optional(),
  })
  .openapi("UpdateEventType");

const NameParam = z.object({ name: z.string().max(128).openapi({ param: { name: "name", in: "path" } }) });
const ListQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(128).optional(),
  include_deprecated: z.enum(["true", "false"]).default("true"),
});

const serialize = (t: EventTypeRow) => ({
  name: t.name,
  description: t.description,
  schema: raw<Record<string, unknown> | null>(t.schema),
  example: raw(t.example),
  deprecated: t.deprecated,
  created_at: iso(t.createdAt)!,
  updated_at: iso(t.updatedAt)!,
});

const jsonText = (value: unknown) => (value === undefined || value === null ? null : JSON.stringify(value));
const parsed = (text: string | null): unknown => (text === null ? null : JSON.parse(text));

/** A schema must compile, and a given example must satisfy it. */
function checkSchemaAndExample(schema: Record<string, unknown> | null | undefined, example: unknown) {
  if (!schema) return;
  const problem = schemaProblem(schema);
  if (problem) throw new ProblemError("validation", `schema: ${problem}`, [{ path: "schema", message: problem }]);
  if (example !== undefined && example !== null) {
    const errors = schemaErrors(schema, example, "example");
    if (errors.length) throw new ProblemError("validation", "example does not match schema", errors);
  }
}

const tags = ["Event types"];

export const eventTypeRoutes = createRouter()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/event-types",
      tags,
      security,
      summary: "List the catalog (any valid credential), by name",
      request: { query: ListQuery },
      responses: {
        200: json(z.object({ data: z.array(EventType), next_cursor: z.string().nullable() }), "The catalog"),
        ...errorResponses,
      },
    }),
    async (c) => {
      const { limit, cursor, include_deprecated } = c.req.valid("query");
      const rows = await database(control(c.env))
        .select()
        .from(eventTypes)
        .where(
          and(
            cursor ? gt(eventTypes.name, cursor) : undefined,
            include_deprecated === "true" ? undefined : eq(eventTypes.deprecated, false),
          ),
        )
        .orderBy(asc(eventTypes.name))
        .limit(limit + 1);
      const page = rows.slice(0, limit);
      const next = rows.length > limit ? rows[limit - 1].name : null;
      return jsonWithRaw(c, { data: page.map(serialize), next_cursor: next }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/event-types/{name}",
      tags,
      security,
      summary: "Read one event type",
      request: { params: NameParam },
      responses: { 200: json(EventType, "The event type"), ...errorResponses },
    }),
    async (c) => {
      const [row] = await database(control(c.env))
        .select()
        .from(eventTypes)
        .where(eq(eventTypes.name, c.req.valid("param").name));
      if (!row) throw notFound("Event type");
      return jsonWithRaw(c, serialize(row), 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/event-types",
      tags,
      security,
      summary: "Add an event type (operator)",
      request: jsonBody(CreateEventType),
      responses: { 201: json(EventType, "The event type"), ...errorResponses },
    }),
    async (c) => {
      requireOperator(c);
      const body = c.req.valid("json");
      checkSchemaAndExample(body.schema, body.example);
      const now = Date.now();
      const row: EventTypeRow = {
        name: body.name,
        description: body.description,
        schema: jsonText(body.schema),
        example: jsonText(body.example),
        deprecated: body.deprecated ?? false,
        createdAt: now,
        updatedAt: now,
      };
      try {
        await database(control(c.env)).insert(eventTypes).values(row);
      } catch (err) {
        if (!isUniqueViolation(err, "event_types.name")) throw err;
        throw new ProblemError("conflict", `event type ${body.name} already exists`, [
          { path: "name", message: "already exists" },
        ]);
      }
      await replicateEventType(c.env, row);
      return jsonWithRaw(c, serialize(row), 201);
    },
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/event-types/{name}",
      tags,
      security,
      summary: "Update a description, schema, example or the deprecated flag (operator)",
      request: { params: NameParam, ...jsonBody(UpdateEventType) },
      responses: { 200: json(EventType, "The event type"), ...errorResponses },
    }),
    async (c) => {
      requireOperator(c);
      const db = database(control(c.env));
      const [current] = await db.select().from(eventTypes).where(eq(eventTypes.name, c.req.valid("param").name));
      if (!current) throw notFound("Event type");
      const body = c.req.valid("json");
      const next: EventTypeRow = {
        ...current,
        ...(body.description !== undefined ? { description: body.description } : {}),
        ...(body.schema !== undefined ? { schema: jsonText(body.schema) } : {}),
        ...(body.example !== undefined ? { example: jsonText(body.example) } : {}),
        ...(body.deprecated !== undefined ? { deprecated: body.deprecated } : {}),
        updatedAt: Math.max(Date.now(), current.updatedAt + 1), // always moves: emit's catalog cache compares it
      };
      if (body.schema !== undefined || body.example !== undefined) {
        checkSchemaAndExample(parsed(next.schema) as Record<string, unknown> | null, parsed(next.example));
      }
      await db.update(eventTypes).set(next).where(eq(eventTypes.name, current.name));
      await replicateEventType(c.env, next);
      return jsonWithRaw(c, serialize(next), 200);
    },
  );
