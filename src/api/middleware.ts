import { bodyLimit } from "hono/body-limit";
import { createMiddleware } from "hono/factory";
import { loadConfig } from "../config";
import { ProblemError } from "../core/problem";
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
