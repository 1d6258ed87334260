/** One onError for the whole app: every failure becomes an RFC 9457 problem body. */
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { type ProblemBody, type ProblemCode, ProblemError, problemBody, problemCodes } from "../core/problem";

/** The first code for each status, for exceptions that carry only a status (thrown by middleware). */
const statusCodes = new Map<number, ProblemCode>();
for (const [code, { status }] of Object.entries(problemCodes) as Array<[ProblemCode, { status: number }]>) {
  if (status < 500 && !statusCodes.has(status)) statusCodes.set(status, code);
}

export function problemResponse(body: ProblemBody, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status: body.status,
    headers: { "content-type": "application/problem+json", ...headers },
  });
}

export function toProblem(err: unknown): ProblemBody {
  if (err instanceof ProblemError) return err.toBody();
  if (err instanceof HTTPException) {
    if (err.status === 400) {
      const detail = err.message || "the request body could not be parsed";
      return problemBody(/json/i.test(detail) ? "invalid_json" : "bad_request", detail);
    }
    if (err.status === 413) return problemBody("payload_too_large", err.message);
    if (err.status === 401) return problemBody("unauthorized", err.message || "unauthorized");
    // @hono/zod-openapi answers a body without a JSON content type with its own 415.
    if (err.status === 415) return problemBody("unsupported_media_type", "send the body as application/json");
    const code = statusCodes.get(err.status);
    if (code) return problemBody(code, err.message || problemCodes[code].title);
  }
  return problemBody("internal", "something went wrong on our side; the request was not applied");
}

export function onError(err: unknown, c: Context): Response {
  const body = toProblem(err);
  if (body.status >= 500) {
    // The message only: never request bodies, headers or secrets.
    console.error(`${c.req.method} ${new URL(c.req.url).pathname} failed:`, err instanceof Error ? err.message : err);
  }
  // Bearer only, on every face, the Clara face's Basic included: a Basic challenge makes
  // browsers prompt for credentials and then send them with every request to this origin,
  // another site's form posts too. Clients that use Basic (curl -u, the Clara scripts) send
  // it up front and never need the challenge; every face accepts Bearer <api key> as well.
  const headers: Record<string, string> = body.status === 401 ? { "www-authenticate": 'Bearer realm="hookline"' } : {};
  if (err instanceof ProblemError && err.retryAfter !== undefined) headers["retry-after"] = String(err.retryAfter);
  return problemResponse(body, headers);
}
