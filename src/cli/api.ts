/// <reference types="node" />
/**
 * The CLI's way to the service: the typed client (hookline/client) for /v1, and a plain
 * JSON request for the SmartShape face (/webhook/), whose routes are not typed by path.
 */
import { apiError, createHooklineClient, type HooklineClient, unwrap } from "../client/index";
import { type ResolvedConfig, requireKey } from "./config";
import { CliError } from "./output";
import { VERSION } from "./version";

export const REQUEST_TIMEOUT_MS = 30_000;

export interface Api {
  config: ResolvedConfig;
  client: HooklineClient;
  /** The data of a typed call, or a thrown HooklineApiError / CliError. */
  call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T>;
  /** A JSON request outside /v1 (the seed faces). */
  raw(method: string, path: string, body?: unknown): Promise<unknown>;
}

/** fetch with a timeout and a readable error when the service cannot be reached. */
export function fetchFor(config: ResolvedConfig) {
  return async (input: Request): Promise<Response> => {
    try {
      return await fetch(input, { signal: AbortSignal.any([AbortSignal.timeout(REQUEST_TIMEOUT_MS), ...(input.signal ? [input.signal] : [])]) });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === "TimeoutError") throw new CliError(`${config.url} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`);
      const why = e.cause?.code ?? e.cause?.message ?? e.message;
      throw new CliError(`cannot reach ${config.url} (${why}): is Hookline running there? (--url, HOOKLINE_URL or hookline login)`);
    }
  };
}

export function connect(config: ResolvedConfig): Api {
  const apiKey = requireKey(config);
  const doFetch = fetchFor(config);
  const client = createHooklineClient({
    url: config.url,
    apiKey,
    fetch: doFetch,
    headers: { "user-agent": `hookline-cli/${VERSION}` },
  });
  return {
    config,
    client,
    call: (request) => unwrap(request),
    async raw(method, path, body) {
      const headers: Record<string, string> = { authorization: `Bearer ${apiKey}`, "user-agent": `hookline-cli/${VERSION}` };
      if (body !== undefined) headers["content-type"] = "application/json";
      const res = await doFetch(
        new Request(config.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }),
      );
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      if (!res.ok) throw apiError(res, parsed);
      return parsed;
    },
  };
}
