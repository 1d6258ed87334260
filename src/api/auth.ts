/**
 * Who is calling: the operator (ADMIN_TOKEN) or an account (API key as Bearer,
 * or Basic `<account name>:<api_key>` as the Clara seed's curl sends it).
 */
import { eq } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import { timingSafeEqualStrings } from "../core/crypto";
import { hashApiKey, parseAuthorization } from "../core/keys";
import { ProblemError } from "../core/problem";
import { database } from "../db/client";
import { accounts, apiKeys } from "../db/schema";
import { control, livesOn, shardCount, shardEnv } from "../db/shards";
import { frozenProblem, isFrozen } from "../delivery/account-move";
import type { AppEnv, Principal } from "./context";

const unauthorized = (detail: string) => new ProblemError("unauthorized", detail);

/** A key (by its hash) and its account, as `db` holds them: the control database's rows, or a shard's copies. */
async function keyOn(db: D1Database, hash: string) {
  const [row] = await database(db)
    .select({ keyId: apiKeys.id, account: accounts })
    .from(apiKeys)
    .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
    .where(eq(apiKeys.keyHash, hash))
    .limit(1);
  return row ?? null;
}

/**
 * Per isolate, with several shards: the shard each key (by hash) was last found to live on, so that
 * its next request is authenticated there, on the copies (services/api-keys), without the control
 * database. Only a hint, never trusted stale: the copy must be there and its account must live on
 * that shard, not frozen by a move (db/shards livesOn). A key revoked has no copy left anywhere; an
 * account moved away or moving is not live on the old shard. Either way the control database is
 * asked, as on a key's first request. Bounded: past MAX_KNOWN keys it starts afresh.
 */
const MAX_KNOWN = 10_000;
/** A key with no copy on its shard: authenticated on the control database. */
const CONTROL_ONLY = -1;
const knownShards = {
  map: new Map<string, number>(),
  remember(env: Env, hash: string, account: { shard: number; movingTo: number | null }) {
    if (this.map.get(hash) === CONTROL_ONLY) return;
    // Not while a move runs: until it ends, the control row's `moving_to` is what the account shows.
    if (shardCount(env) === 1 || account.movingTo !== null) return;
    if (shardEnv(env, account.shard).DB === control(env)) return;
    if (this.map.size >= MAX_KNOWN) this.map.clear();
    this.map.set(hash, account.shard);
  },
};

async function onItsShard(env: Env, hash: string) {
  const shard = knownShards.map.get(hash);
  if (shard === undefined || shard === CONTROL_ONLY || shard >= shardCount(env)) return null;
  const row = await keyOn(shardEnv(env, shard).DB, hash);
  if (row && livesOn(row.account, shard)) return row;
  // No copy (a key of an account created before keys had copies, or revoked): the control
  // database from now on, in one read. A stale account (moved, moving): asked there once, as new.
  if (row) knownShards.map.delete(hash);
  else knownShards.map.set(hash, CONTROL_ONLY);
  return null;
}

/**
 * `adminToken` null: the operator token is no credential here (the dashboard), and is
 * looked up like any other key, so nothing tells it apart from a wrong one.
 */
export async function authenticate(env: Env, adminToken: string | null, header: string | undefined): Promise<Principal> {
  const creds = parseAuthorization(header);
  if (creds.scheme === "none") {
    throw unauthorized("send Authorization: Bearer <api key> (or Basic <account name>:<api key>)");
  }
  if (creds.scheme === "malformed") throw unauthorized(creds.why);
  const token = creds.scheme === "bearer" ? creds.token : creds.password;
  const operatorMayCall = creds.scheme === "bearer" && adminToken !== null;
  if (operatorMayCall && (await timingSafeEqualStrings(token, adminToken))) return { kind: "operator" };
  const hash = await hashApiKey(token);
  const row = (await onItsShard(env, hash)) ?? (await keyOn(control(env), hash));
  if (row) knownShards.remember(env, hash, row.account);
  if (!row) {
    // One answer whichever the token resembles: it never says which of the two exists.
    throw unauthorized(operatorMayCall ? "the Bearer token is neither the operator token nor a valid API key" : "the API key is not valid");
  }
  if (creds.scheme === "basic" && creds.user !== row.account.name) {
    throw unauthorized("the account name does not match the API key");
  }
  return { kind: "account", account: row.account, keyId: row.keyId };
}

/**
 * Sets the principal; for an account, its requests see the bindings of the account's shard
 * (`c.env.DB` is its data; control tables are read through `control(c.env)`).
 */
export const requireAuth = createMiddleware<AppEnv>(async (c, next) => {
  const principal = await authenticate(c.env, c.get("config").adminToken, c.req.header("authorization"));
  c.set("principal", principal);
  if (principal.kind === "account") {
    c.env = shardEnv(c.env, principal.account.shard);
    // Frozen on its shard while a move copies it (src/delivery/account-move.ts): reads go on, writes wait.
    if (isFrozen(principal.account) && c.req.method !== "GET" && c.req.method !== "HEAD") throw frozenProblem(principal.account);
  }
  await next();
});
