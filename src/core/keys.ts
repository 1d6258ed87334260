/** API keys: high-entropy, shown once, stored and looked up as SHA-256 hashes. */
import { randomBytes, sha256Hex, toBase64Url } from "./encoding";

const KEY_PREFIX = "hl_";

export interface NewKey {
  key: string;
  hash: string;
  prefix: string;
}

export async function generateApiKey(): Promise<NewKey> {
  const key = KEY_PREFIX + toBase64Url(randomBytes(32));
  return { key, hash: await sha256Hex(key), prefix: key.slice(0, 10) };
}

export const hashApiKey = sha256Hex;

export type Credentials =
  | { scheme: "bearer"; token: string }
  | { scheme: "basic"; user: string; password: string }
  | { scheme: "none" }
  | { scheme: "malformed"; why: string };

/** Reads an Authorization header: `Bearer <token>` or `Basic base64(user:password)`. */
export function parseAuthorization(header: string | undefined): Credentials {
  if (!header) return { scheme: "none" };
  const space = header.indexOf(" ");
  const scheme = (space < 0 ? header : header.slice(0, space)).toLowerCase();
  const value = space < 0 ? "" : header.slice(space + 1).trim();
  if (scheme === "bearer") {
    return value ? { scheme: "bearer", token: value } : { scheme: "malformed", why: "empty Bearer token" };
  }
  if (scheme === "basic") {
    let decoded: string;
    try {
      decoded = new TextDecoder().decode(Uint8Array.from(atob(value), (ch) => ch.charCodeAt(0)));
    } catch {
      return { scheme: "malformed", why: "Basic credentials are not base64" };
    }
    const colon = decoded.indexOf(":");
    if (colon < 0) return { scheme: "malformed", why: "Basic credentials need user:password" };
    return { scheme: "basic", user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  // Never quote the header: without a space, the "scheme" is the bare key itself.
  return {
    scheme: "malformed",
    why: space < 0 ? "the Authorization header has no scheme: send Bearer <api key>" : "unsupported authorization scheme: use Bearer or Basic",
  };
}
