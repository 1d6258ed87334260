/**
 * API keys and their copies. A key's row is the control database's; the shard its account lives
 * on keeps a copy (src/db/shards.ts), so that a request is authenticated on that shard
 * (src/api/auth.ts) and reads the control database only when its isolate does not know the key's
 * shard yet or the copy is missing or stale. A copy is written after the control row and removed
 * before it, so no copy ever lets in a key the control database does not hold.
 */
import { and, eq } from "drizzle-orm";
import { database } from "../db/client";
import { type ApiKeyRow, apiKeys } from "../db/schema";
import { allShards, control, shardEnv } from "../db/shards";

/** Stores a new key: the control row, then its account's shard's copy (without which it is not created). */
export async function storeKey(env: Env, shard: number, row: ApiKeyRow): Promise<void> {
  const controlDb = database(control(env));
  await controlDb.insert(apiKeys).values(row);
  const copy = shardEnv(env, shard).DB;
  if (copy === control(env)) return;
  try {
    await database(copy).insert(apiKeys).values(row);
  } catch (err) {
    await controlDb.delete(apiKeys).where(eq(apiKeys.id, row.id));
    throw err;
  }
}

/**
 * Revokes a key: every shard's copy first (a move may have copied it to its target as well), then
 * the control row. Answers whether the account had the key.
 */
export async function revokeKey(env: Env, accountId: string, keyId: string): Promise<boolean> {
  const ofAccount = and(eq(apiKeys.id, keyId), eq(apiKeys.accountId, accountId));
  const copies = allShards(env).filter((s) => s.DB !== control(env));
  await Promise.all(copies.map((s) => database(s.DB).delete(apiKeys).where(ofAccount)));
  const deleted = await database(control(env)).delete(apiKeys).where(ofAccount).returning({ id: apiKeys.id });
  return deleted.length > 0;
}
