/**
 * The compatibility formats of Clara.io, clarife and SmartShape (README): a hex HMAC whose
 * key is the whole secret string (clara, clarife), or a bcrypt token (smartshape).
 */
import { hmacSha256 } from "../crypto";
import { randomBytes, toBase64Url, toHex, utf8 } from "../encoding";
import { type Format, is2xx, type ResponseSummary, type SecretPolicy } from "./types";

// The cache id names the key derivation: the same string is a different key under standard.
const hexHmac = async (secret: string, message: string) =>
  toHex(await hmacSha256(utf8(secret), `raw:${secret}`, utf8(message)));

const MIN_SECRET = 8;
const MAX_SECRET = 256;
const checkLength = (secret: string) =>
  secret.length < MIN_SECRET || secret.length > MAX_SECRET
    ? `must be ${MIN_SECRET} to ${MAX_SECRET} characters`
    : null;

const plainSecret = (kind: SecretPolicy["kind"]): SecretPolicy => ({
  kind,
  generate: () => "whsec_" + toBase64Url(randomBytes(32)),
  check: checkLength,
  rotationGraceSeconds: 0,
});

/** Clara.io: the job record as the body; X-Clara-Signature only when the hook has a secret. */
export const clara: Format = {
  name: "clara",
  schemes: ["http", "https"],
  secret: plainSecret("optional"),
  reservedHeaders: ["x-clara-delivery", "x-clara-signature"],
  body: (event) => event.data,
  async headers(body, { deliveryId, secrets }) {
    const headers: Record<string, string> = { "X-Clara-Delivery": deliveryId };
    if (secrets.length > 0) headers["X-Clara-Signature"] = "sha256=" + (await hexHmac(secrets[0], body));
    return headers;
  },
  isSuccess: is2xx,
};

/** clarife: `JSON.stringify` of the envelope, `X-Clarife-Signature: t=<s>,v1=<hex>`. */
export const clarife: Format = {
  name: "clarife",
  schemes: ["https"],
  secret: plainSecret("generated"),
  reservedHeaders: ["x-clarife-signature"],
  body(event) {
    // data is already normalized (JSON.stringify of its parse), so this equals
    // JSON.stringify(JSON.parse(body)), which is what the seed's verifier signs.
    const createdAt = new Date(event.timestamp).toISOString();
    return `{"id":${JSON.stringify(event.id)},"type":${JSON.stringify(event.type)},"created_at":"${createdAt}","data":${event.data}}`;
  },
  async headers(body, { secrets, now }) {
    return { "X-Clarife-Signature": `t=${Math.floor(now / 1000)},v1=${await hexHmac(secrets[0], body)}` };
  },
  isSuccess: is2xx,
};

/** SmartShape: a bcrypt hash of the hook's token, computed once when the token is set. */
export const smartshape: Format = {
  name: "smartshape",
  schemes: ["http", "https"],
  secret: {
    ...plainSecret("required"),
    async derive(secret) {
      const { hash } = await import("bcryptjs");
      return hash(secret, 10);
    },
  },
  reservedHeaders: ["x-smartshape-token"],
  body(event) {
    const file = event.subject === null ? "null" : JSON.stringify(event.subject);
    const uuid = event.id.replace(/^evt_/, "");
    return `{"file":${file},"event":${JSON.stringify(event.type)},"data":${event.data},"owner":${JSON.stringify(event.owner)},"runTimestamp":${event.timestamp},"uuid":"${uuid}"}`;
  },
  async headers(_body, { derived }): Promise<Record<string, string>> {
    return derived ? { "x-smartshape-token": derived } : {};
  },
  isSuccess: (response) => smartshapeRefusal(response) === null,
  refusal: smartshapeRefusal,
};

/** What SmartShape's receivers answer on success: 200, application/json, `{"success": true}`. */
function smartshapeRefusal(response: ResponseSummary): string | null {
  const needs = 'SmartShape counts only 200 with an application/json body {"success": true}';
  if (response.status !== 200) return `${needs}, not status ${response.status}`;
  const mediaType = (response.contentType ?? "").split(";")[0].trim().toLowerCase();
  if (mediaType !== "application/json") return `${needs}, and this answer's content-type is ${response.contentType ? `"${response.contentType}"` : "missing"}`;
  let body: unknown;
  try {
    body = JSON.parse(response.body);
  } catch {
    return `${needs}, and this body is not JSON`;
  }
  const success = body !== null && typeof body === "object" ? (body as { success?: unknown }).success : undefined;
  if (success === true) return null;
  return `${needs}, and this body's "success" is ${success === undefined ? "missing" : JSON.stringify(success)}`;
}
