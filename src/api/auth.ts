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
import { control, shardEnv } from "../db/shards";
import { frozenProblem, isFrozen } from "../delivery/account-move";
import type { AppEnv, Principal } from "./context";

const unauthorized = (detail: string) => new ProblemError("unauthorized", detail);

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
  const [row] = await database(control(env))
    .select({ keyId: apiKeys.id, account: accounts })
    .from(apiKeys)
    .innerJoin(accounts, eq(accounts.id, apiKeys.accountId))
    .where(eq(apiKeys.keyHash, await hashApiKey(token)))
    .limit(1);
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
