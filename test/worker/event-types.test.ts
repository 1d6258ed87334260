/** The event-type catalog. */
import { describe, expect, it } from "vitest";
import { call, createAccount, createSubscription, expectProblem, listAll } from "./harness";
import { OPERATIONAL_EVENT_TYPES } from "../../src/core/operational";

const clarife = ["document", "project", "folder", "share"]
  .flatMap((r) => ["created", "updated", "deleted"].map((a) => `${r}.${a}`))
  .concat(["media.uploaded", "generation.started", "generation.completed", "generation.failed"]);
const smartshape = [
  "attribute_updated",
  "file_uploaded",
  "file_optimized",
  "annotation_created",
  "annotation_updated",
  "annotation_removed",
  "configuration_created",
  "configuration_updated",
  "configuration_removed",
];
const claraJobTypes = [
  "import",
  "export",
  "renderFrame",
  "renderAnimation",
  "renderThumbnailVRay",
  "renderThumbnailWebGL",
  "renderFrameWebGL",
  "liveRender",
  "command",
  "imageReducer",
  "vrayBrdfToStandard",
];
const clara = claraJobTypes.flatMap((j) => ["pending", "working", "cancelled", "failed", "ok"].map((s) => `${j}.${s}`));
const seeded = [...clarife, ...smartshape, ...clara, "webhook.test"];

/** Names this file adds all start with "zz", so the seeded catalog can be told apart. */
const added = (name: string) => name.startsWith("zz");
/** Loaded by migration 0007 with their JSON Schemas (test/worker/operational-webhooks.test.ts). */
const operational = (name: string) => (OPERATIONAL_EVENT_TYPES as readonly string[]).includes(name);

describe("the catalog loaded by migration", () => {
  it("has the 16 clarife types, 9 SmartShape events, 55 Clara job-type statuses and webhook.test", async () => {
    expect(clarife).toHaveLength(16);
    expect(smartshape).toHaveLength(9);
    expect(clara).toHaveLength(55);
    const { key } = await createAccount();
    const { items } = await listAll("/v1/event-types", key, 100);
    const names = items.map((t) => t.name).filter((n) => !added(n) && !operational(n));
    expect(names).toHaveLength(81);
    expect([...names].sort()).toEqual([...seeded].sort());
    expect(items.filter((t) => operational(t.name))).toHaveLength(OPERATIONAL_EVENT_TYPES.length);
    for (const t of items.filter((t) => !added(t.name) && !operational(t.name))) {
      expect(t).toEqual({
        name: t.name,
        description: expect.any(String),
        schema: null,
        example: expect.anything(),
        deprecated: false,
        created_at: "2026-11-23T00:00:00.000Z",
        updated_at: "2026-11-23T00:00:00.000Z",
      });
      expect(t.description.length).toBeGreaterThan(0);
    }
  });

  it("reads one type by name; a missing one is 404", async () => {
    const { key } = await createAccount();
    const res = await call("GET", "/v1/event-types/webhook.test", { token: key });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ name: "webhook.test", deprecated: false, example: { message: expect.any(String) } });
    expectProblem(await call("GET", "/v1/event-types/nope.nothing", { token: key }), 404);
  });

  it("needs a valid credential: none is 401, the operator and any account may read", async () => {
    expectProblem(await call("GET", "/v1/event-types", { token: null }), 401);
    expectProblem(await call("GET", "/v1/event-types", { token: "wrong" }), 401);
    expect((await call("GET", "/v1/event-types")).status).toBe(200);
    const { name, key } = await createAccount();
    expect((await call("GET", "/v1/event-types", { basic: [name, key] })).status).toBe(200);
  });
});

describe("pagination", () => {
  it("pages by name with limit and cursor, without gaps or repeats", async () => {
    const all = await listAll("/v1/event-types", undefined, 100);
    expect(all.pages).toHaveLength(1);
    const names = all.items.map((t) => t.name);
    expect(names).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));

    const bySeven = await listAll("/v1/event-types", undefined, 7);
    expect(bySeven.items.map((t) => t.name)).toEqual(names);
    expect(bySeven.pages.slice(0, -1).every((n) => n === 7)).toBe(true);
    expect(bySeven.pages.length).toBe(Math.ceil(names.length / 7));
  });

  it("defaults to 50 per page and refuses limits outside 1-100 with 422", async () => {
    const first = await call("GET", "/v1/event-types");
    expect(first.json.data).toHaveLength(50);
    expect(first.json.next_cursor).toEqual(expect.any(String));
    const second = await call("GET", `/v1/event-types?cursor=${encodeURIComponent(first.json.next_cursor)}`);
    expect(second.status).toBe(200);
    expect(second.json.data[0].name > first.json.data[49].name).toBe(true);

    for (const limit of ["0", "101", "-1", "abc", "1.5"]) {
      const p = expectProblem(await call("GET", `/v1/event-types?limit=${limit}`), 422);
      expect(p.errors?.map((e) => e.path)).toEqual(["query.limit"]);
    }
  });

  it("the last page has a null next_cursor", async () => {
    const res = await call("GET", "/v1/event-types?limit=100");
    expect(res.json.next_cursor).toBeNull();
  });
});

describe("POST /v1/event-types", () => {
  it("the operator adds a type with a schema and example; it is listed and readable", async () => {
    const body = {
      name: "zz_invoice.paid",
      description: "An invoice was paid",
      schema: { type: "object", properties: { amount: { type: "integer" } }, required: ["amount"] },
      example: { amount: 42 },
    };
    const res = await call("POST", "/v1/event-types", { body });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toEqual({
      ...body,
      deprecated: false,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    const { key } = await createAccount();
    const read = await call("GET", "/v1/event-types/zz_invoice.paid", { token: key });
    expect(read.json).toEqual(res.json);
    const { items } = await listAll("/v1/event-types", key, 100);
    expect(items.map((t) => t.name)).toContain("zz_invoice.paid");
    // And new subscriptions may use it at once.
    const sub = await createSubscription(key, { event_types: ["zz_invoice.paid"] });
    expect(sub.event_types).toEqual(["zz_invoice.paid"]);
  });

  it("defaults description to empty, schema and example to null", async () => {
    const res = await call("POST", "/v1/event-types", { body: { name: "zz_bare" } });
    expect(res.status, res.text).toBe(201);
    expect(res.json).toMatchObject({ name: "zz_bare", description: "", schema: null, example: null, deprecated: false });
  });

  it("an account gets 403 and nothing is added", async () => {
    const { key } = await createAccount();
    expectProblem(await call("POST", "/v1/event-types", { token: key, body: { name: "zz_sneaky.created" } }), 403);
    expectProblem(await call("GET", "/v1/event-types/zz_sneaky.created"), 404);
  });

  it("a name taken is 409", async () => {
    const p = expectProblem(await call("POST", "/v1/event-types", { body: { name: "document.updated" } }), 409);
    expect(p.errors?.[0].path).toBe("name");
    // The seeded description is untouched.
    expect((await call("GET", "/v1/event-types/document.updated")).json.description).toMatch(/^clarife:/);
  });

  it.each(["zz invoice", "1zz.paid", "zz.", ".zz", "zz..paid", "zz.*", "*", "zz-paid", "zz.paid.", "", "zé.paid"])(
    "refuses the name %j with 422 naming the field",
    async (name) => {
      const p = expectProblem(await call("POST", "/v1/event-types", { body: { name } }), 422);
      expect(p.errors?.map((e) => e.path)).toEqual(["name"]);
    },
  );

  it("refuses an example that does not match the schema, naming the path, and stores nothing", async () => {
    const p = expectProblem(
      await call("POST", "/v1/event-types", {
        body: {
          name: "zz_order.placed",
          schema: { type: "object", properties: { total: { type: "number" } }, required: ["total"] },
          example: { total: "ten" },
        },
      }),
      422,
    );
    expect(p.errors?.length).toBeGreaterThan(0);
    expect(p.errors?.some((e) => e.path === "example.total")).toBe(true);
    expectProblem(await call("GET", "/v1/event-types/zz_order.placed"), 404);

    const missing = expectProblem(
      await call("POST", "/v1/event-types", {
        body: { name: "zz_order.placed", schema: { type: "object", required: ["total"] }, example: {} },
      }),
      422,
    );
    expect(missing.errors?.every((e) => e.path.startsWith("example"))).toBe(true);
  });

  it("refuses unknown fields and wrong types with 422", async () => {
    let p = expectProblem(await call("POST", "/v1/event-types", { body: { name: "zz_x", color: 1 } }), 422);
    expect(p.errors).toEqual([{ path: "color", message: "unknown field" }]);
    p = expectProblem(await call("POST", "/v1/event-types", { body: { name: "zz_x", schema: "object" } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["schema"]);
    p = expectProblem(await call("POST", "/v1/event-types", { body: { name: "zz_x", deprecated: "yes" } }), 422);
    expect(p.errors?.map((e) => e.path)).toEqual(["deprecated"]);
    expectProblem(await call("GET", "/v1/event-types/zz_x"), 404);
  });
});

describe("PATCH /v1/event-types/{name}", () => {
  it("changes the description and the deprecated flag", async () => {
    await call("POST", "/v1/event-types", { body: { name: "zz_patch.me", description: "before" } });
    const res = await call("PATCH", "/v1/event-types/zz_patch.me", { body: { description: "after" } });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ name: "zz_patch.me", description: "after", deprecated: false });
    const dep = await call("PATCH", "/v1/event-types/zz_patch.me", { body: { deprecated: true } });
    expect(dep.json).toMatchObject({ description: "after", deprecated: true });
    expect((await call("GET", "/v1/event-types/zz_patch.me")).json).toMatchObject({
      description: "after",
      deprecated: true,
    });
    const listed = await listAll("/v1/event-types?include_deprecated=false", undefined, 100);
    expect(listed.items.map((t) => t.name)).not.toContain("zz_patch.me");
    const undep = await call("PATCH", "/v1/event-types/zz_patch.me", { body: { deprecated: false } });
    expect(undep.json.deprecated).toBe(false);
  });

  it("refuses an example that breaks the schema, and a schema that breaks the example", async () => {
    await call("POST", "/v1/event-types", {
      body: { name: "zz_shape.changed", schema: { type: "object" }, example: { a: 1 } },
    });
    expectProblem(await call("PATCH", "/v1/event-types/zz_shape.changed", { body: { example: [1] } }), 422);
    expectProblem(
      await call("PATCH", "/v1/event-types/zz_shape.changed", { body: { schema: { type: "array" } } }),
      422,
    );
    expect((await call("GET", "/v1/event-types/zz_shape.changed")).json).toMatchObject({
      schema: { type: "object" },
      example: { a: 1 },
    });
  });

  it("is operator-only (403), 404 for a missing type, 422 for unknown fields", async () => {
    const { key } = await createAccount();
    expectProblem(await call("PATCH", "/v1/event-types/webhook.test", { token: key, body: { deprecated: true } }), 403);
    expect((await call("GET", "/v1/event-types/webhook.test")).json.deprecated).toBe(false);
    expectProblem(await call("PATCH", "/v1/event-types/nope.none", { body: { description: "x" } }), 404);
    const p = expectProblem(await call("PATCH", "/v1/event-types/webhook.test", { body: { name: "renamed" } }), 422);
    expect(p.errors).toEqual([{ path: "name", message: "unknown field" }]);
  });
});

describe("deprecated types and subscriptions", () => {
  it("a new subscription cannot pick a deprecated type; an existing one keeps it", async () => {
    await call("POST", "/v1/event-types", { body: { name: "zz_old.thing" } });
    await call("POST", "/v1/event-types", { body: { name: "zz_older.thing" } });
    const { key } = await createAccount("business");
    const sub = await createSubscription(key, { event_types: ["zz_old.thing", "document.updated"] });

    await call("PATCH", "/v1/event-types/zz_old.thing", { body: { deprecated: true } });
    await call("PATCH", "/v1/event-types/zz_older.thing", { body: { deprecated: true } });

    const refused = await call("POST", "/v1/subscriptions", {
      token: key,
      body: { url: "https://example.com/hook", event_types: ["document.created", "zz_old.thing"] },
    });
    const p = expectProblem(refused, 422);
    expect(p.errors).toHaveLength(1);
    expect(p.errors?.[0].path).toBe("event_types.1");
    expect(p.errors?.[0].message).toContain("zz_old.thing");
    expect(p.errors?.[0].message).toMatch(/deprecated/);
    expect(p.detail).toContain("zz_old.thing");

    // PATCH of other fields keeps it.
    const patched = await call("PATCH", `/v1/subscriptions/${sub.id}`, {
      token: key,
      body: { description: "still here" },
    });
    expect(patched.status, patched.text).toBe(200);
    expect(patched.json.event_types).toEqual(["zz_old.thing", "document.updated"]);
    // So does re-sending the same list, or a list that drops the other one.
    const same = await call("PATCH", `/v1/subscriptions/${sub.id}`, {
      token: key,
      body: { event_types: ["zz_old.thing"] },
    });
    expect(same.status, same.text).toBe(200);
    expect(same.json.event_types).toEqual(["zz_old.thing"]);
    // Adding another deprecated type is refused, and changes nothing.
    const added = await call("PATCH", `/v1/subscriptions/${sub.id}`, {
      token: key,
      body: { event_types: ["zz_old.thing", "zz_older.thing"], description: "nope" },
    });
    const p2 = expectProblem(added, 422);
    expect(p2.errors?.[0].message).toContain("zz_older.thing");
    const read = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(read.json).toMatchObject({ event_types: ["zz_old.thing"], description: "still here" });

    // A prefix whose every type is deprecated names nothing usable.
    expectProblem(
      await call("POST", "/v1/subscriptions", {
        token: key,
        body: { url: "https://example.com/hook", event_types: ["zz_old.*"] },
      }),
      422,
    );
  });
});

describe("schemas that could not validate anything", () => {
  it("refuses an invalid regular expression or an unknown type with a 422 naming where", async () => {
    const badPattern = await call("POST", "/v1/event-types", {
      body: { name: "bad.pattern_type", schema: { properties: { a: { type: "string", pattern: "(" } } } },
    });
    expect(expectProblem(badPattern, 422).detail).toContain("pattern");
    const badType = await call("POST", "/v1/event-types", { body: { name: "bad.type_type", schema: { type: 5 } } });
    expect(expectProblem(badType, 422).detail).toContain("type");
    const listed = await call("GET", "/v1/event-types/bad.pattern_type");
    expect(listed.status).toBe(404);
  });
});
