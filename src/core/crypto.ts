/**
 * WebCrypto wrappers: secrets at rest (AES-GCM under SECRETS_KEY) and HMAC-SHA256
 * signing. Imported keys are cached per isolate: importKey is work done once.
 */
import { fromBase64, randomBytes, toBase64, utf8 } from "./encoding";

const aesKeys = new Map<string, Promise<CryptoKey>>();

function aesKey(secretsKey: string): Promise<CryptoKey> {
  let key = aesKeys.get(secretsKey);
  if (!key) {
    const raw = fromBase64(secretsKey);
    if (raw.length !== 32) throw new Error("SECRETS_KEY must be the base64 of 32 bytes");
    key = crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
    aesKeys.set(secretsKey, key);
  }
  return key;
}

/** base64(iv || ciphertext) */
export async function encryptSecret(secretsKey: string, plaintext: string): Promise<string> {
  const iv = randomBytes(12);
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, await aesKey(secretsKey), utf8(plaintext)),
  );
  const out = new Uint8Array(iv.length + sealed.length);
  out.set(iv);
  out.set(sealed, iv.length);
  return toBase64(out);
}

export async function decryptSecret(secretsKey: string, stored: string): Promise<string> {
  const bytes = fromBase64(stored);
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, 12) },
    await aesKey(secretsKey),
    bytes.subarray(12),
  );
  return new TextDecoder().decode(plain);
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();
const HMAC_CACHE_LIMIT = 1000;

/** HMAC-SHA256 of `message` under raw key bytes (identified by `cacheId`). */
export async function hmacSha256(keyBytes: Uint8Array, cacheId: string, message: Uint8Array): Promise<Uint8Array> {
  let key = hmacKeys.get(cacheId);
  if (!key) {
    if (hmacKeys.size >= HMAC_CACHE_LIMIT) hmacKeys.clear();
    key = crypto.subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    hmacKeys.set(cacheId, key);
  }
  return new Uint8Array(await crypto.subtle.sign("HMAC", await key, message));
}

/** Constant-time string equality (over SHA-256 digests, so lengths leak nothing either). */
export async function timingSafeEqualStrings(a: string, b: string): Promise<boolean> {
  const [da, db] = await Promise.all([
    crypto.subtle.digest("SHA-256", utf8(a)),
    crypto.subtle.digest("SHA-256", utf8(b)),
  ]);
  return crypto.subtle.timingSafeEqual(da, db);
}
