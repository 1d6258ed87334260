import { createMiddleware } from "hono/factory";
import { loadConfig } from "../config";
import { ProblemError } from "../core/problem";
import { sameOrigin } from "../core/same-origin";
import type { AppEnv } from "./context";

export const MAX_BODY_BYTES = 1024 * 1024;

export const withConfig = createMiddleware<AppEnv>(async (c, next) => {
  c.set("config", loadConfig(c.env));
  await next();
});

const tooLarge = () => new ProblemError("payload_too_large", `request bodies are capped at ${MAX_BODY_BYTES} bytes (1 MiB)`);

/**
 * Request bodies over 1 MiB are a 413, read as they stream (a chunked body has no
 * Content-Length to trust). The rest of a refused body is drained before the answer:
 * one left unread breaks `wrangler dev`'s proxy, whose next request (someone else's)
 * then fails with "Your worker restarted mid-request".
 */
export const limitBody = createMiddleware<AppEnv>(async (c, next) => {
  const body = c.req.raw.body;
  if (!body) return next();
  const declared = c.req.raw.headers.has("transfer-encoding") ? null : c.req.raw.headers.get("content-length");
  if (declared !== null) {
    if (Number(declared) > MAX_BODY_BYTES) {
      await drain(body.getReader());
      throw tooLarge();
    }
    return next();
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > MAX_BODY_BYTES) {
      await drain(reader);
      throw tooLarge();
    }
    chunks.push(value);
  }
  c.req.raw = new Request(c.req.raw, { body: new Blob(chunks) });
  return next();
});

/** Reads and drops what is left of a refused body, up to DRAIN_LIMIT; past that the stream is cancelled. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>) {
  let drained = 0;
  try {
    while (drained < DRAIN_LIMIT) {
      const { done, value } = await reader.read();
      if (done) return;
      drained += value.length;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to drain.
  }
}

const DRAIN_LIMIT = 16 * MAX_BODY_BYTES;

const hasBody = (req: Request) =>
  req.body !== null && (req.headers.get("content-length") ?? "1") !== "0";

/** /v1 speaks JSON only: a body of another type is refused, not half-read. */
export const jsonOnly = createMiddleware<AppEnv>(async (c, next) => {
  if (hasBody(c.req.raw)) {
    const type = (c.req.header("content-type") ?? "").split(";")[0].trim().toLowerCase();
    if (type && !/^application\/([\w.-]+\+)?json$/.test(type)) {
      throw new ProblemError("unsupported_media_type", `send the body as application/json (got ${type.slice(0, 100)})`);
    }
  }
  await next();
});

/**
 * The API faces are for programs, not for pages of other sites: a browser request another
 * site started (a form post riding on Basic credentials the browser cached) is refused
 * before authentication. curl sends neither Origin nor Sec-Fetch-Site and is not affected.
 */
export const refuseCrossSite = createMiddleware<AppEnv>(async (c, next) => {
  if (!sameOrigin(c.req.url, c.req.raw.headers)) {
    throw new ProblemError(
      "forbidden",
      "this request comes from another site (Origin or Sec-Fetch-Site says so); the API takes no browser requests from other sites",
    );
  }
  await next();
});
