import { bodyLimit } from "hono/body-limit";
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

export const limitBody = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => {
    throw new ProblemError("payload_too_large", `request bodies are capped at ${MAX_BODY_BYTES} bytes (1 MiB)`);
  },
});

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
