/// <reference types="node" />
/**
 * `hookline/client`: its committed types are what openapi-typescript makes of the app's
 * current OpenAPI document (regenerated here in memory), and the package's exports
 * (`hookline/client`, `hookline/verify`) work for a TypeScript consumer and in Node as built.
 * No service needed: the document comes from the app itself (scripts/client-types.mjs), and
 * cli.test.ts checks that document against the running service's /openapi.json.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { committedClientTypes, generateClientTypes, openapiDocument } from "../../scripts/client-types.mjs";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));
let consumer: string;

beforeAll(() => {
  const built = spawnSync(process.execPath, [join(ROOT, "scripts", "build.mjs")], { encoding: "utf8" });
  expect(built.status, built.stderr).toBe(0);
  // A project that installed hookline: node_modules/hookline is the package folder.
  consumer = mkdtempSync(join(tmpdir(), "hookline-consumer-"));
  mkdirSync(join(consumer, "node_modules"));
  symlinkSync(ROOT, join(consumer, "node_modules", "hookline"));
  writeFileSync(join(consumer, "package.json"), JSON.stringify({ type: "module" }));
});

afterAll(() => {
  if (consumer) rmSync(consumer, { recursive: true, force: true });
});

describe("hookline/client", () => {
  it("src/client/schema.d.ts is current: `npm run client:generate` would write exactly it", async () => {
    const fresh = await generateClientTypes(await openapiDocument());
    const committed = committedClientTypes();
    if (fresh !== committed) {
      expect.fail("src/client/schema.d.ts is stale: run `npm run client:generate` and commit the result");
    }
    expect(fresh).toContain('"/v1/subscriptions/{id}"');
  });

  it("is usable from a TypeScript project through the package exports, with checked paths and bodies", () => {
    writeFileSync(
      join(consumer, "use.ts"),
      `import { createHooklineClient, unwrap, HooklineApiError, type Subscription } from "hookline/client";
import { verify, verifyStandard, WebhookVerificationError } from "hookline/verify";

const hookline = createHooklineClient({ url: "http://127.0.0.1:8787", apiKey: "hl_x" });
export async function f(): Promise<Subscription[]> {
  const page = await unwrap(hookline.GET("/v1/subscriptions", { params: { query: { limit: 10 } } }));
  await unwrap(hookline.POST("/v1/subscriptions", { body: { url: "https://example.com", event_types: ["document.*"] } }));
  const event = await verifyStandard("{}", new Headers(), "whsec_x");
  const clarife = await verify("clarife", "{}", {}, "s");
  const id: string = clarife.id;
  void event.type; void id;
  return page.data;
}
export const isError = (e: unknown) => e instanceof HooklineApiError || (e instanceof WebhookVerificationError && e.code === "invalid_signature");
// @ts-expect-error: a path the API does not have
hookline.GET("/v1/nope");
// @ts-expect-error: event_types is required
hookline.POST("/v1/subscriptions", { body: { url: "https://example.com" } });
`,
    );
    writeFileSync(
      join(consumer, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, noEmit: true, lib: ["ES2022", "DOM"], types: [] },
        files: ["use.ts"],
      }),
    );
    const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", consumer], { encoding: "utf8" });
    expect(tsc.status, tsc.stdout + tsc.stderr).toBe(0);
  });

  it("runs in Node as built: calls go through the given fetch, and a refusal is a HooklineApiError with the problem", async () => {
    writeFileSync(
      join(consumer, "run.mjs"),
      `import { createHooklineClient, unwrap, HooklineApiError } from "hookline/client";
const seen = [];
const fetch = async (request) => {
  seen.push([request.method, request.url, request.headers.get("authorization")]);
  if (request.url.endsWith("/v1/subscriptions/sub_missing")) {
    return new Response(JSON.stringify({ type: "about:blank", title: "Not found", status: 404, detail: "Subscription not found" }), { status: 404, headers: { "content-type": "application/problem+json" } });
  }
  return Response.json({ data: [], next_cursor: null });
};
const client = createHooklineClient({ url: "https://hookline.example/", apiKey: "hl_key", fetch });
const page = await unwrap(client.GET("/v1/subscriptions", { params: { query: { limit: 5 } } }));
let error;
try { await unwrap(client.GET("/v1/subscriptions/{id}", { params: { path: { id: "sub_missing" } } })); } catch (e) { error = e; }
console.log(JSON.stringify({ page, seen, error: { isApiError: error instanceof HooklineApiError, status: error.status, message: error.message, problem: error.problem } }));
`,
    );
    const run = spawnSync(process.execPath, [join(consumer, "run.mjs")], { encoding: "utf8", cwd: consumer });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      page: { data: [], next_cursor: null },
      seen: [
        ["GET", "https://hookline.example/v1/subscriptions?limit=5", "Bearer hl_key"],
        ["GET", "https://hookline.example/v1/subscriptions/sub_missing", "Bearer hl_key"],
      ],
      error: {
        isApiError: true,
        status: 404,
        message: "Not found: Subscription not found",
        problem: { type: "about:blank", title: "Not found", status: 404, detail: "Subscription not found" },
      },
    });
  });
});
