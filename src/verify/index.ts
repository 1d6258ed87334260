/**
 * `hookline/verify`: receiver-side checks of a Hookline delivery, one per format
 * (README "Verifying a delivery"). Each takes the raw body exactly as received (a string: read
 * it before any JSON parser touches it), the request's headers (a `Headers`, or a plain
 * object such as Express's `req.headers`; names are matched case-insensitively) and the
 * subscription's secret, and resolves to the parsed event or rejects with a
 * WebhookVerificationError whose `code` says why.
 *
 * Only WebCrypto and pure-JS packages (standardwebhooks, bcryptjs): it runs in Node 20+,
 * Workers, Deno and Bun alike. HMACs are compared by `crypto.subtle.verify`, in constant time.
 */
import { compare as bcryptCompare } from "bcryptjs";
import { Webhook, WebhookVerificationError as StandardError } from "standardwebhooks";

export type VerifyFormat = "standard" | "clara" | "clarife" | "smartshape";

export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

export type VerificationErrorCode =
  /** A header the format needs is absent. */
  | "missing_header"
  /** A header is there but not in the format's shape. */
  | "invalid_header"
  /** No signature (or token) matches the secret and the body. */
  | "invalid_signature"
  /** The signed timestamp is outside the tolerance (stale, or from the future). */
  | "timestamp_out_of_tolerance"
  /** The body is not the JSON the format sends. */
  | "invalid_payload"
  /** The secret given to the verifier cannot be used (empty, or not `whsec_` + base64 for standard). */
  | "invalid_secret";

export class WebhookVerificationError extends Error {
  readonly code: VerificationErrorCode;

  constructor(code: VerificationErrorCode, message: string) {
    super(message);
    this.name = "WebhookVerificationError";
    this.code = code;
  }
}

/** `standard`: `{type, timestamp, subject?, data}`. */
export interface StandardEvent<T = unknown> {
  type: string;
  timestamp: string;
  subject?: string;
  data: T;
}

/** `clarife`: exactly `JSON.stringify({id, type, created_at, data})`. */
export interface ClarifeEvent<T = unknown> {
  id: string;
  type: string;
  created_at: string;
  data: T;
}

/** `smartshape`: the seed's payload. */
export interface SmartShapeEvent<T = unknown> {
  file: string | null;
  event: string;
  data: T;
  owner: string;
  runTimestamp: number;
  uuid: string;
}

/** clarife's replay window: a signature whose `t` is more than this many seconds away from now is refused. */
export const CLARIFE_TOLERANCE_SECONDS = 300;

const encoder = new TextEncoder();

/** One header's value, whatever the headers' shape; repeated values are joined as HTTP does. */
export function headerValue(headers: HeadersLike, name: string): string | undefined {
  const wanted = name.toLowerCase();
  if (typeof (headers as Headers).get === "function" && typeof (headers as Headers).has === "function") {
    return (headers as Headers).get(wanted) ?? undefined;
  }
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() !== wanted || value === undefined) continue;
    return Array.isArray(value) ? value.join(", ") : value;
  }
  return undefined;
}

function requireHeader(headers: HeadersLike, name: string): string {
  const value = headerValue(headers, name);
  if (value === undefined || value === "") throw new WebhookVerificationError("missing_header", `missing ${name} header`);
  return value;
}

function requireSecret(secret: string): void {
  if (typeof secret !== "string" || secret === "") throw new WebhookVerificationError("invalid_secret", "the secret is empty");
}

function parseJson(rawBody: string): unknown {
  try {
    return JSON.parse(rawBody);
  } catch {
    throw new WebhookVerificationError("invalid_payload", "the body is not JSON");
  }
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> | null {
  if (hex.length === 0 || hex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(hex)) return null;
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return bytes;
}

/** Does `signature` equal HMAC-SHA256(key = the whole secret string, message)? Constant time. */
async function hmacMatches(secret: string, message: string, signature: Uint8Array<ArrayBuffer>): Promise<boolean> {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
  return crypto.subtle.verify("HMAC", key, signature, encoder.encode(message));
}

/**
 * `standard` (Standard Webhooks): delegates to the `standardwebhooks` package, which checks
 * `webhook-signature` (any of its space-separated `v1,` signatures, so both secrets verify
 * during a rotation) over `{webhook-id}.{webhook-timestamp}.{body}` and a 5-minute window.
 */
export async function verifyStandard<T = unknown>(rawBody: string, headers: HeadersLike, secret: string): Promise<StandardEvent<T>> {
  requireSecret(secret);
  let webhook: Webhook;
  try {
    webhook = new Webhook(secret);
  } catch (err) {
    throw new WebhookVerificationError("invalid_secret", `the secret is not a Standard Webhooks secret (whsec_ + base64): ${(err as Error).message}`);
  }
  const wanted = {
    "webhook-id": headerValue(headers, "webhook-id") ?? "",
    "webhook-timestamp": headerValue(headers, "webhook-timestamp") ?? "",
    "webhook-signature": headerValue(headers, "webhook-signature") ?? "",
  };
  for (const [name, value] of Object.entries(wanted)) {
    if (!value) throw new WebhookVerificationError("missing_header", `missing ${name} header`);
  }
  try {
    return webhook.verify(rawBody, wanted) as StandardEvent<T>;
  } catch (err) {
    if (err instanceof StandardError) {
      const message = err.message;
      if (/timestamp too (old|new)/i.test(message)) throw new WebhookVerificationError("timestamp_out_of_tolerance", message);
      if (/invalid signature headers/i.test(message)) throw new WebhookVerificationError("invalid_header", "webhook-timestamp is not a number");
      throw new WebhookVerificationError("invalid_signature", message);
    }
    if (err instanceof SyntaxError) throw new WebhookVerificationError("invalid_payload", "the body is not JSON");
    throw err;
  }
}

/** `clara`: `X-Clara-Signature: sha256=<hex HMAC-SHA256 of the raw body>`, keyed with the whole secret. */
export async function verifyClara<T = unknown>(rawBody: string, headers: HeadersLike, secret: string): Promise<T> {
  requireSecret(secret);
  const header = requireHeader(headers, "x-clara-signature").trim();
  const match = /^sha256=([0-9a-fA-F]{64})$/.exec(header);
  if (!match) throw new WebhookVerificationError("invalid_header", "X-Clara-Signature is not sha256=<64 hex digits>");
  if (!(await hmacMatches(secret, rawBody, fromHex(match[1])!))) {
    throw new WebhookVerificationError("invalid_signature", "X-Clara-Signature does not match the body");
  }
  return parseJson(rawBody) as T;
}

export interface ClarifeOptions {
  /** Seconds either side of now that `t` may be (default 300). */
  toleranceSeconds?: number;
  /** The receiver's clock, ms since the epoch (default Date.now()). */
  now?: number;
}

/**
 * `clarife`: `X-Clarife-Signature: t=<seconds>,v1=<hex HMAC-SHA256>`, where the HMAC (keyed
 * with the whole secret) covers `JSON.stringify(JSON.parse(rawBody))`, as clarife's own
 * verifier computes it; `t` must be within 300 s of the receiver's clock. `t` is not under
 * the signature (README "clarife receivers"): the window only refuses old headers.
 */
export async function verifyClarife<T = unknown>(
  rawBody: string,
  headers: HeadersLike,
  secret: string,
  options: ClarifeOptions = {},
): Promise<ClarifeEvent<T>> {
  requireSecret(secret);
  const header = requireHeader(headers, "x-clarife-signature");
  let timestamp: number | null = null;
  const signatures: Uint8Array<ArrayBuffer>[] = [];
  for (const part of header.split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (key === "t" && /^\d{1,12}$/.test(value)) timestamp = Number(value);
    if (key === "v1") {
      const bytes = fromHex(value);
      if (bytes && bytes.length === 32) signatures.push(bytes);
    }
  }
  if (timestamp === null) throw new WebhookVerificationError("invalid_header", "X-Clarife-Signature has no t=<seconds>");
  if (signatures.length === 0) throw new WebhookVerificationError("invalid_header", "X-Clarife-Signature has no v1=<64 hex digits>");
  const tolerance = options.toleranceSeconds ?? CLARIFE_TOLERANCE_SECONDS;
  const now = (options.now ?? Date.now()) / 1000;
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError("timestamp_out_of_tolerance", `the signature's t is more than ${tolerance} s away from now`);
  }
  const event = parseJson(rawBody);
  const signed = JSON.stringify(event);
  for (const signature of signatures) {
    if (await hmacMatches(secret, signed, signature)) return event as ClarifeEvent<T>;
  }
  throw new WebhookVerificationError("invalid_signature", "X-Clarife-Signature does not match the body");
}

/**
 * `smartshape`: `x-smartshape-token` is a bcrypt hash of the hook's secret token; the check
 * is the seed's `bcrypt.compareSync(secret, req.headers['x-smartshape-token'])`. The token
 * does not cover the body: it authenticates the sender only (as in SmartShape itself).
 */
export async function verifySmartShape<T = unknown>(rawBody: string, headers: HeadersLike, secretToken: string): Promise<SmartShapeEvent<T>> {
  requireSecret(secretToken);
  const token = requireHeader(headers, "x-smartshape-token").trim();
  if (!/^\$2[abxy]\$\d{2}\$[./A-Za-z0-9]{53}$/.test(token)) {
    throw new WebhookVerificationError("invalid_header", "x-smartshape-token is not a bcrypt hash");
  }
  let matches = false;
  try {
    matches = await bcryptCompare(secretToken, token);
  } catch {
    matches = false;
  }
  if (!matches) throw new WebhookVerificationError("invalid_signature", "x-smartshape-token does not match the secret token");
  const event = parseJson(rawBody);
  if (typeof event !== "object" || event === null || typeof (event as SmartShapeEvent).event !== "string") {
    throw new WebhookVerificationError("invalid_payload", "the body has no event field");
  }
  return event as SmartShapeEvent<T>;
}

export interface VerifiedEvents<T = unknown> {
  standard: StandardEvent<T>;
  clara: T;
  clarife: ClarifeEvent<T>;
  smartshape: SmartShapeEvent<T>;
}

/** The verifier of a format by name: `await verify("clarife", rawBody, req.headers, secret)`. */
export function verify<F extends VerifyFormat, T = unknown>(
  format: F,
  rawBody: string,
  headers: HeadersLike,
  secret: string,
): Promise<VerifiedEvents<T>[F]> {
  switch (format) {
    case "standard":
      return verifyStandard<T>(rawBody, headers, secret) as Promise<VerifiedEvents<T>[F]>;
    case "clara":
      return verifyClara<T>(rawBody, headers, secret) as Promise<VerifiedEvents<T>[F]>;
    case "clarife":
      return verifyClarife<T>(rawBody, headers, secret) as Promise<VerifiedEvents<T>[F]>;
    case "smartshape":
      return verifySmartShape<T>(rawBody, headers, secret) as Promise<VerifiedEvents<T>[F]>;
    default:
      return Promise.reject(new Error(`unknown format ${String(format)}`));
  }
}
