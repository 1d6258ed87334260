/**
 * Failed dashboard sign-ins are limited per key prefix (someone guessing one account's key
 * from many addresses) and per client (one address guessing many keys), in a fixed 15-minute
 * window that starts at a bucket's first failure. Limits no person typing a key ever meets.
 *
 * The counters are D1 rows, not Durable Object state: D1 runs every statement of the database
 * on one primary, so an upsert that counts and answers the new count in one statement is exact
 * across isolates, and the dashboard already talks to D1 (no new binding, one round trip).
 * A try is counted before the key is checked, and handed back when it succeeds or is refused
 * unchecked: concurrent guesses never get past the limit, and signing in costs nothing.
 */
import { inArray, lte, sql } from "drizzle-orm";
import { sha256Hex } from "../core/encoding";
import { control } from "../db/shards";
import { database } from "../db/client";
import { signInAttempts } from "../db/schema";

export const SIGN_IN_WINDOW_MS = 15 * 60 * 1000;
export const FAILED_SIGN_INS_PER_KEY_PREFIX = 10;
export const FAILED_SIGN_INS_PER_CLIENT = 30;
/** As long as the API's own key prefixes (core/keys.ts): a mistyped key still counts toward its key. */
const PREFIX_LENGTH = 10;

export interface Bucket {
  id: string;
  limit: number;
}

/**
 * The buckets of a try. The client is CF-Connecting-IP, which Cloudflare always sets; without it
 * (wrangler dev, tests) every such request is one client. Both are hashed: what someone typed
 * in the key field is never stored.
 */
export async function signInBuckets(typedKey: string, clientIp: string | undefined): Promise<Bucket[]> {
  const [key, client] = await Promise.all([sha256Hex(`key:${typedKey.slice(0, PREFIX_LENGTH)}`), sha256Hex(`client:${clientIp ?? "unknown"}`)]);
  return [
    { id: key, limit: FAILED_SIGN_INS_PER_KEY_PREFIX },
    { id: client, limit: FAILED_SIGN_INS_PER_CLIENT },
  ];
}

/** Counts the try in every bucket; null when it may go on, else the seconds until it may (Retry-After). */
export async function reserveSignIn(env: Env, buckets: Bucket[], now = Date.now()): Promise<number | null> {
  const db = database(control(env));
  const count = (b: Bucket) =>
    db
      .insert(signInAttempts)
      .values({ bucket: b.id, count: 1, windowStart: now })
      .onConflictDoUpdate({ target: signInAttempts.bucket, set: { count: sql`${signInAttempts.count} + 1` } })
      .returning({ count: signInAttempts.count, windowStart: signInAttempts.windowStart });
  const [, ...counted] = await db.batch([
    db.delete(signInAttempts).where(lte(signInAttempts.windowStart, now - SIGN_IN_WINDOW_MS)),
    ...(buckets.map(count) as [ReturnType<typeof count>]),
  ]);
  const waits = buckets.flatMap((b, i) => {
    const row = counted[i][0];
    return row.count > b.limit ? [Math.ceil((row.windowStart + SIGN_IN_WINDOW_MS - now) / 1000)] : [];
  });
  if (waits.length === 0) return null;
  await handBack(env, buckets);
  return Math.max(1, ...waits);
}

/** A try that succeeded, or was refused before its key was checked, is not a failure. */
export async function handBack(env: Env, buckets: Bucket[]): Promise<void> {
  await database(control(env))
    .update(signInAttempts)
    .set({ count: sql`${signInAttempts.count} - 1` })
    .where(inArray(signInAttempts.bucket, buckets.map((b) => b.id)));
}
