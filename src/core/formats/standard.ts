/** Standard Webhooks (standardwebhooks.com): `v1,<base64 HMAC>` over `{id}.{timestamp}.{body}`. */
import { hmacSha256 } from "../crypto";
import { fromBase64, randomBytes, toBase64, utf8 } from "../encoding";
import { type Format, is2xx } from "./types";

const PREFIX = "whsec_";

export function standardSecretError(secret: string): string | null {
  if (!secret.startsWith(PREFIX)) return `must start with "${PREFIX}" followed by base64 (Standard Webhooks secret)`;
  let key: Uint8Array;
  try {
    key = fromBase64(secret.slice(PREFIX.length));
  } catch {
    return `the part after "${PREFIX}" must be base64`;
  }
  if (key.length < 24 || key.length > 64) return `the key must be 24 to 64 bytes, got ${key.length}`;
  return null;
}

export async function signStandard(secret: string, msgId: string, timestamp: number, body: string): Promise<string> {
  const key = fromBase64(secret.slice(PREFIX.length));
  const mac = await hmacSha256(key, `whsec:${secret}`, utf8(`${msgId}.${timestamp}.${body}`));
  return `v1,${toBase64(mac)}`;
}

export const standard: Format = {
  name: "standard",
  schemes: ["https"],
  secret: {
    kind: "generated",
    generate: () => PREFIX + toBase64(randomBytes(32)),
    check: standardSecretError,
    rotationGraceSeconds: 24 * 60 * 60,
  },
  reservedHeaders: ["webhook-id", "webhook-timestamp", "webhook-signature"],
  body(event) {
    const subject = event.subject === null ? "" : `,"subject":${JSON.stringify(event.subject)}`;
    const timestamp = new Date(event.timestamp).toISOString();
    return `{"type":${JSON.stringify(event.type)},"timestamp":"${timestamp}"${subject},"data":${event.data}}`;
  },
  async headers(body, { deliveryId, secrets, now }) {
    const seconds = Math.floor(now / 1000);
    const signatures = await Promise.all(secrets.map((s) => signStandard(s, deliveryId, seconds, body)));
    return {
      "webhook-id": deliveryId,
      "webhook-timestamp": String(seconds),
      "webhook-signature": signatures.join(" "),
    };
  },
  isSuccess: is2xx,
};
