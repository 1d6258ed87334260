/** Accounts and their API keys (README "The API": auth). */
import { createRoute, z } from "@hono/zod-openapi";
import { desc, eq, ne, sql } from "drizzle-orm";
import { DEFAULT_PLAN, plans } from "../config";
import { idRegex, newId } from "../core/ids";
import { generateApiKey } from "../core/keys";
import { SYSTEM_ACCOUNT_ID } from "../core/operational";
import { notFound, ProblemError, problemBody } from "../core/problem";
import { database, isUniqueViolation } from "../db/client";
import { type AccountRow, accounts, apiKeys } from "../db/schema";
import { control, shardCount, shardEnv } from "../db/shards";
import { startMove } from "../delivery/account-move";
import { deleteAccount } from "../services/accounts";
import { revokeKey, storeKey } from "../services/api-keys";
import { revokeListenKey } from "../services/listen";
import { type AppContext, createRouter, requireAccount, requireOperator } from "./context";
import { problemResponse } from "./errors";
import { errorResponses, iso, json, jsonBody, PlanName, Problem, Timestamp, security } from "./schemas";

const ACCOUNT_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const Account = z
  .object({
    id: z.string().openapi({ example: "acct_0b7c0ad6-3c39-4a35-8d1f-6f1f2a1e4c2b" }),
    name: z.string().openapi({ example: "yourname" }),
    email: z.string().nullable(),
    plan: PlanName,
    max_subscriptions: z.number().int(),
    shard: z.number().int().openapi({ description: "The data shard (0 to SHARDS-1) holding the account's subscriptions, events and log" }),
    moving_to: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "The shard a running move takes it to (POST /v1/accounts/{id}/move); `shard` shows it once it has switched" }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Account");

const ApiKey = z
  .object({ id: z.string(), prefix: z.string(), created_at: Timestamp })
  .openapi("ApiKey");
const NewApiKey = ApiKey.extend({
  key: z.string().openapi({ description: "Shown once: only its hash is stored." }),
}).openapi("NewApiKey");

const Email = z.email().max(254);
const CreateAccount = z
  .strictObject({
    name: z.string().regex(ACCOUNT_NAME, "must match ^[a-z0-9][a-z0-9_-]{0,63}$"),
    email: Email.optional(),
    plan: PlanName.optional(),
    shard: z
      .number()
      .int()
      .nonnegative()
      .optional()
      .openapi({ description: "The data shard to put it on (0 to SHARDS-1); by default the one with the fewest accounts" }),
  })
  .openapi("CreateAccount");
const UpdateAccount = z
  .strictObject({ plan: PlanName.optional(), email: Email.nullable().optional() })
  .openapi("UpdateAccount");

const MoveAccount = z.strictObject({ shard: z.number().int().nonnegative() }).openapi("MoveAccount");

const AccountParam = z.object({ id: z.string().max(128).openapi({ param: { name: "id", in: "path" } }) });
const KeyParam = AccountParam.extend({
  key_id: z.string().max(128).openapi({ param: { name: "key_id", in: "path" } }),
});

export const serializeAccount = (a: AccountRow) => ({
  id: a.id,
  name: a.name,
  email: a.email,
  plan: a.plan as z.infer<typeof PlanName>,
  max_subscriptions: plans[a.plan as keyof typeof plans]?.maxSubscriptions ?? 0,
  shard: a.shard,
  moving_to: a.movingTo,
  created_at: iso(a.createdAt)!,
  updated_at: iso(a.updatedAt)!,
});

const serializeKey = (k: { id: string; prefix: string; createdAt: number }) => ({
  id: k.id,
  prefix: k.prefix,
  created_at: iso(k.createdAt)!,
});

/** The account an id names, if the caller may see it: another account's is a 404. */
async function visibleAccount(c: AppContext, id: string): Promise<AccountRow> {
  const principal = c.get("principal");
  if (principal.kind === "account") {
    if (principal.account.id !== id) throw notFound("Account");
    return principal.account;
  }
  // The system account (operational webhooks) is no one's to read, change, delete or give a key.
  if (!idRegex("account").test(id) || id === SYSTEM_ACCOUNT_ID) throw notFound("Account");
  const [row] = await database(control(c.env)).select().from(accounts).where(eq(accounts.id, id)).limit(1);
  if (!row) throw notFound("Account");
  return row;
}

/** `named` when such a shard exists, else a 422 naming `shard`. */
function existingShard(env: Env, named: number): number {
  const n = shardCount(env);
  if (named >= n) {
    throw new ProblemError("validation", `shard: there are ${n} shard(s), numbered 0 to ${n - 1}`, [
      { path: "shard", message: `must be from 0 to ${n - 1}` },
    ]);
  }
  return named;
}

/**
 * The shard a new account goes to: the one named (422 when there is no such shard), else the
 * one with the fewest accounts, the lowest on a tie.
 */
async function placement(env: Env, named: number | undefined): Promise<number> {
  const n = shardCount(env);
  if (named !== undefined) return existingShard(env, named);
  if (n === 1) return 0;
  const rows = await database(control(env))
    .select({ shard: accounts.shard, n: sql<number>`count(*)` })
    .from(accounts)
    .where(ne(accounts.id, SYSTEM_ACCOUNT_ID))
    .groupBy(accounts.shard);
  const load = Array.from({ length: n }, (_, i) => rows.find((r) => r.shard === i)?.n ?? 0);
  return load.indexOf(Math.min(...load));
}

async function insertKey(env: Env, accountId: string, now: number) {
  const { key, hash, prefix } = await generateApiKey();
  const row = { id: newId("key"), accountId, keyHash: hash, prefix, createdAt: now };
  return { row, answer: { ...serializeKey(row), key } };
}

const tags = ["Accounts"];

export const accountRoutes = createRouter()
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/accounts",
      tags,
      security,
      summary: "Create an account (operator) with its first API key",
      request: jsonBody(CreateAccount),
      responses: {
        201: json(Account.extend({ api_key: NewApiKey }), "The account and its first key, shown once"),
        ...errorResponses,
      },
    }),
    async (c) => {
      requireOperator(c);
      const body = c.req.valid("json");
      const now = Date.now();
      const account: AccountRow = {
        id: newId("account"),
        name: body.name,
        email: body.email ?? null,
        plan: body.plan ?? DEFAULT_PLAN,
        shard: await placement(c.env, body.shard),
        movingTo: null,
        createdAt: now,
        updatedAt: now,
      };
      const key = await insertKey(c.env, account.id, now);
      const db = database(control(c.env));
      // Both rows or neither: a batch is one transaction. The unique name settles races.
      try {
        await db.batch([db.insert(accounts).values(account), db.insert(apiKeys).values(key.row)]);
      } catch (err) {
        if (!isUniqueViolation(err, "accounts.name")) throw err;
        throw new ProblemError("conflict", `an account named "${body.name}" already exists`, [
          { path: "name", message: "already taken" },
        ]);
      }
      // Its shard's copies of the row and the key (src/db/shards.ts), before anyone holds the key;
      // without them the account is not created.
      if (account.shard !== 0) {
        try {
          const copy = database(shardEnv(c.env, account.shard).DB);
          await copy.batch([copy.insert(accounts).values(account), copy.insert(apiKeys).values(key.row)]);
        } catch (err) {
          await db.delete(accounts).where(eq(accounts.id, account.id));
          throw err;
        }
      }
      return c.json({ ...serializeAccount(account), api_key: key.answer }, 201);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/account",
      tags,
      security,
      summary: "The calling account",
      responses: { 200: json(Account, "The account"), ...errorResponses },
    }),
    (c) => c.json(serializeAccount(requireAccount(c)), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/accounts/{id}",
      tags,
      security,
      summary: "Read an account (operator, or the account itself)",
      request: { params: AccountParam },
      responses: { 200: json(Account, "The account"), ...errorResponses },
    }),
    async (c) => c.json(serializeAccount(await visibleAccount(c, c.req.valid("param").id)), 200),
  )
  .openapi(
    createRoute({
      method: "patch",
      path: "/v1/accounts/{id}",
      tags,
      security,
      summary: "Change an account's plan or email (operator)",
      request: { params: AccountParam, ...jsonBody(UpdateAccount) },
      responses: { 200: json(Account, "The account"), ...errorResponses },
    }),
    async (c) => {
      requireOperator(c);
      const current = await visibleAccount(c, c.req.valid("param").id);
      const body = c.req.valid("json");
      const changes = {
        ...(body.plan !== undefined ? { plan: body.plan } : {}),
        ...(body.email !== undefined ? { email: body.email } : {}),
        updatedAt: Date.now(),
      };
      await database(control(c.env)).update(accounts).set(changes).where(eq(accounts.id, current.id));
      // Each shard's copy of the row: its own, and the one a running move is making.
      for (const shard of new Set([current.shard, current.movingTo ?? current.shard])) {
        const copy = shardEnv(c.env, shard).DB;
        if (copy !== control(c.env)) await database(copy).update(accounts).set(changes).where(eq(accounts.id, current.id));
      }
      return c.json(serializeAccount({ ...current, ...changes }), 200);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/accounts/{id}",
      tags,
      security,
      summary: "Delete an account and everything of it (operator): keys, listen sessions, subscriptions, events, log",
      request: { params: AccountParam },
      responses: {
        204: { description: "Deleted" },
        503: {
          content: { "application/problem+json": { schema: Problem } },
          description: "A log too large for one call: part of it is deleted, and nothing is delivered any more; call again",
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      requireOperator(c);
      const account = await visibleAccount(c, c.req.valid("param").id);
      if (account.movingTo !== null) {
        throw new ProblemError("conflict", `${account.id} is being moved to shard ${account.movingTo}: delete it once the move is done`);
      }
      const { complete } = await deleteAccount(c.env, account);
      if (!complete) {
        const detail = `${account.id}'s keys, subscriptions and listen sessions are deleted, but its log is larger than one call deletes: send DELETE again to go on`;
        return problemResponse(problemBody("unavailable", detail), { "retry-after": "0" });
      }
      return c.body(null, 204);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/accounts/{id}/move",
      tags,
      security,
      summary: "Move an account to another data shard (operator)",
      description:
        "Freezes the account on its shard (its emits and writes answer 503 with Retry-After meanwhile), waits for its attempts in flight, copies what it needs next to the target (subscriptions, idempotency keys, stats, deliveries still to be sent), switches it there (`shard` shows the target from then on), then copies the rest of its log in the background (older log entries read as missing until then) and deletes what is left on the source; `moving_to` is null again once all is done. Nothing is lost or sent twice because of a move. A second move while one runs is a 409.",
      request: { params: AccountParam, ...jsonBody(MoveAccount) },
      responses: { 202: json(z.object({ moving_to: z.number().int() }), "The move started"), ...errorResponses },
    }),
    async (c) => {
      requireOperator(c);
      const account = await visibleAccount(c, c.req.valid("param").id);
      const to = existingShard(c.env, c.req.valid("json").shard);
      if (to === account.shard && account.movingTo === null) {
        throw new ProblemError("validation", `shard: the account is on shard ${to} already`, [{ path: "shard", message: "is the account's shard" }]);
      }
      await startMove(c.env, account, to);
      return c.json({ moving_to: to }, 202);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/accounts/{id}/keys",
      tags,
      security,
      summary: "List an account's API keys (never the keys themselves)",
      request: { params: AccountParam },
      responses: { 200: json(z.object({ data: z.array(ApiKey) }), "The keys"), ...errorResponses },
    }),
    async (c) => {
      const account = await visibleAccount(c, c.req.valid("param").id);
      const rows = await database(control(c.env))
        .select({ id: apiKeys.id, prefix: apiKeys.prefix, createdAt: apiKeys.createdAt })
        .from(apiKeys)
        .where(eq(apiKeys.accountId, account.id))
        .orderBy(desc(apiKeys.createdAt));
      return c.json({ data: rows.map(serializeKey) }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "post",
      path: "/v1/accounts/{id}/keys",
      tags,
      security,
      summary: "Create an API key (operator, or the account itself)",
      request: { params: AccountParam },
      responses: { 201: json(NewApiKey, "The new key, shown once"), ...errorResponses },
    }),
    async (c) => {
      const account = await visibleAccount(c, c.req.valid("param").id);
      const key = await insertKey(c.env, account.id, Date.now());
      await storeKey(c.env, account.shard, key.row);
      return c.json(key.answer, 201);
    },
  )
  .openapi(
    createRoute({
      method: "delete",
      path: "/v1/accounts/{id}/keys/{key_id}",
      tags,
      security,
      summary: "Revoke an API key (the listen sessions it opened close at once)",
      request: { params: KeyParam },
      responses: { 204: { description: "Revoked" }, ...errorResponses },
    }),
    async (c) => {
      const { id, key_id } = c.req.valid("param");
      const account = await visibleAccount(c, id);
      if (!(await revokeKey(c.env, account.id, key_id))) throw notFound("API key");
      await revokeListenKey(shardEnv(c.env, account.shard), account.id, key_id);
      return c.body(null, 204);
    },
  );
