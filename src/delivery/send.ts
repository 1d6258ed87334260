/**
 * One attempt: the format builds the request, fetch sends it (never following
 * redirects, under DELIVERY_TIMEOUT_MS) and the answer is summed up as an attempt,
 * its error in words a person can act on (core/attempt-errors).
 */
import type { Config } from "../config";
import { answerError, cappedHeaders, hostOf, networkError } from "../core/attempt-errors";
import { decryptSecret } from "../core/crypto";
import { type FormatEvent, type FormatName, formats } from "../core/formats";
import { attemptIdOf } from "../core/ids";
import { retryAfter } from "../core/receiver-signals";
import { checkTargetUrl } from "../core/url-safety";
import { LISTEN_SCHEME } from "../services/listen";
import { listenSessionOf } from "./listen";
import { probe } from "./probe";

export const RESPONSE_BODY_LIMIT = 4096;

/** The columns of a subscription that sending needs. */
export interface SendTarget {
  id: string;
  url: string;
  format: string;
  headers: Record<string, string>;
  secretEnc: string | null;
  previousSecretEnc: string | null;
  previousSecretUntil: number | null;
  derivedEnc: string | null;
}

export interface AttemptRecord {
  id: string;
  deliveryId: string;
  number: number;
  startedAt: number;
  durationMs: number;
  outcome: "success" | "http_status" | "timeout" | "network";
  statusCode: number | null;
  error: string | null;
  responseHeaders: Record<string, string> | null;
  responseBody: string | null;
  /** The wait a 429 or 503 asked for with Retry-After (capped); not stored apart from the error's words. */
  retryAfterSeconds?: number;
}

interface Keys {
  current: string | null;
  previous: string | null;
  previousUntil: number | null;
  derived: string | null;
}

// Decrypting is work done once per sealed secret, not once per delivery. The ciphertexts
// themselves are the key: every new secret gets a fresh IV, so a rotation can never hit the cache.
const keyCache = new Map<string, Promise<Keys>>();
const KEY_CACHE_LIMIT = 5000;

function keysFor(config: Config, t: SendTarget): Promise<Keys> {
  const cacheKey = `${t.secretEnc}|${t.previousSecretEnc}|${t.previousSecretUntil}|${t.derivedEnc}`;
  let keys = keyCache.get(cacheKey);
  if (!keys) {
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    const open = (v: string | null) => (v === null ? Promise.resolve(null) : decryptSecret(config.secretsKey, v));
    keys = Promise.all([open(t.secretEnc), open(t.previousSecretEnc), open(t.derivedEnc)]).then(
      ([current, previous, derived]) => ({ current, previous, previousUntil: t.previousSecretUntil, derived }),
    );
    keys.catch(() => keyCache.delete(cacheKey));
    keyCache.set(cacheKey, keys);
  }
  return keys;
}

/**
 * The first RESPONSE_BODY_LIMIT bytes of an answer, as text. An answer that declares a length
 * within the limit, uncompressed, is read whole by the runtime (no read loop in JavaScript: the
 * usual receiver answers a few bytes); any other is read chunk by chunk and the rest cancelled.
 */
async function readPrefix(res: Response): Promise<string> {
  const body = res.body;
  if (!body) return "";
  // Not a compressed answer: its declared length is not what it inflates to.
  const declared = res.headers.has("content-encoding") ? NaN : Number(res.headers.get("content-length") ?? NaN);
  if (declared <= RESPONSE_BODY_LIMIT) {
    const whole = new Uint8Array(await res.arrayBuffer());
    return new TextDecoder().decode(whole.length > RESPONSE_BODY_LIMIT ? whole.subarray(0, RESPONSE_BODY_LIMIT) : whole);
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_BODY_LIMIT) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(Math.min(size, RESPONSE_BODY_LIMIT));
  let offset = 0;
  for (const c of chunks) {
    const part = c.subarray(0, all.length - offset);
    all.set(part, offset);
    offset += part.length;
    if (offset >= all.length) break;
  }
  return new TextDecoder().decode(all);
}

/**
 * A listen session's subscriptions are not fetched: the session's Durable Object hands the
 * request to the CLI over its WebSocket and returns the CLI's answer as the response.
 */
function listenFetcher(env: Env, sessionId: string, deliveryId: string, attempt: number, timeoutMs: number) {
  return async (_url: string | URL, init: RequestInit & { signal: AbortSignal }): Promise<Response> => {
    const aborted = new Promise<never>((_, reject) =>
      init.signal.addEventListener("abort", () => reject(init.signal.reason), { once: true }),
    );
    const answer = await Promise.race([
      listenSessionOf(env, sessionId).deliver(
        { delivery_id: deliveryId, attempt, headers: Object.fromEntries(new Headers(init.headers)), body: String(init.body) },
        timeoutMs,
      ),
      aborted,
    ]);
    const status = answer.status >= 200 && answer.status <= 599 ? answer.status : 502;
    return new Response(answer.body, { status, headers: answer.headers });
  };
}

/** Sends one attempt of a delivery and describes what happened. Never throws. */
export async function sendAttempt(
  env: Env,
  config: Config,
  target: SendTarget,
  event: FormatEvent,
  deliveryId: string,
  number: number,
): Promise<AttemptRecord> {
  const startedAt = Date.now();
  const record = (fields: Partial<AttemptRecord> & Pick<AttemptRecord, "outcome">): AttemptRecord => ({
    id: attemptIdOf(deliveryId, number),
    deliveryId,
    number,
    startedAt,
    durationMs: Date.now() - startedAt,
    statusCode: null,
    error: null,
    responseHeaders: null,
    responseBody: null,
    ...fields,
  });
  const format = formats[target.format as FormatName];
  const listening = target.url.startsWith(LISTEN_SCHEME);
  const check = listening
    ? ({ ok: true, url: target.url } as const)
    : checkTargetUrl(target.url, { schemes: format.schemes, allowInsecure: config.allowInsecureTargets });
  if (!check.ok) return record({ outcome: "network", error: `target refused: ${check.rule}` });
  const fetcher = listening
    ? listenFetcher(env, target.url.slice(LISTEN_SCHEME.length), deliveryId, number, config.deliveryTimeoutMs)
    : fetch;

  const signal = AbortSignal.timeout(config.deliveryTimeoutMs);
  try {
    const keys = await keysFor(config, target);
    const secrets = [keys.current, keys.previousUntil !== null && keys.previousUntil > startedAt ? keys.previous : null]
      .filter((s): s is string => s !== null);
    const body = format.body(event);
    const signed = await format.headers(body, { deliveryId, secrets, derived: keys.derived, now: startedAt });
    const headers = new Headers(target.headers);
    headers.set("content-type", "application/json");
    headers.set("user-agent", "Hookline-Webhooks/1.0");
    for (const [name, value] of Object.entries(signed)) headers.set(name, value);
    const res = await fetcher(check.url, { method: "POST", headers, body, redirect: "manual", signal });
    const responseBody = await readPrefix(res);
    const responseHeaders = cappedHeaders(res.headers);
    const summary = { status: res.status, contentType: res.headers.get("content-type"), body: responseBody };
    if (format.isSuccess(summary)) {
      return record({ outcome: "success", statusCode: res.status, responseHeaders, responseBody });
    }
    const wait = retryAfter(res.status, res.headers.get("retry-after"), Date.now());
    const error = answerError(listening ? "the listening CLI's receiver" : hostOf(check.url), {
      status: res.status,
      location: res.headers.get("location"),
      body: responseBody,
      refusal: format.refusal?.(summary) ?? null,
      retryAfter: wait,
    });
    return record({
      outcome: "http_status",
      statusCode: res.status,
      responseHeaders,
      responseBody,
      error,
      ...(wait ? { retryAfterSeconds: wait.seconds } : {}),
    });
  } catch (err) {
    const host = listening ? "the listening CLI's receiver" : hostOf(check.url);
    if (signal.aborted) return record({ outcome: "timeout", error: `${host} did not answer within ${config.deliveryTimeoutMs} ms` });
    if (listening) return record({ outcome: "network", error: err instanceof Error ? err.message : String(err) });
    // The attempt's duration is the fetch's; the probe that explains it comes after.
    const durationMs = Date.now() - startedAt;
    return record({ outcome: "network", durationMs, error: networkError(check.url, err, await probe(new URL(check.url))) });
  }
}
