/**
 * Emitting: validate the whole call, store its events and fan out their deliveries
 * in one D1 batch, then enqueue the pending ones (ids only). Two D1 round trips
 * whatever the size of the call; D1 is the record, the queue only the fast path.
 */
import { inArray, sql } from "drizzle-orm";
import type { Config } from "../config";
import { sha256Hex } from "../core/encoding";
import { newId } from "../core/ids";
import { schemaErrors } from "../core/json-schema";
import { subscriptionMatches } from "../core/matching";
import { type FieldError, ProblemError } from "../core/problem";
import { database, isUniqueViolation, sqlAll, sqlRun } from "../db/client";
import { accounts, eventTypes, idempotencyKeys, subscriptions } from "../db/schema";
import { enqueueDeliveries } from "./enqueue";
import { type EmitEventInput, type EmitResultBody, MAX_DATA_BYTES } from "./emit-schema";

export const IDEMPOTENCY_TTL_MS = 24 * 60 * 60 * 1000;

export interface EmitOptions {
  /** The Idempotency-Key header: covers the whole call. */
  idempotencyKey?: string;
  /** Name fields as `events[i].x` (a batch) or `x` (a single event). */
  batch: boolean;
  /** Set on the one retry after losing an idempotency race. */
  raced?: boolean;
}

export interface EmitOutcome {
  body: EmitResultBody;
  replayed: boolean;
}

interface Prepared {
  input: EmitEventInput;
  id: string;
  data: string;
  timestamp: number;
  hash: string;
}

const scopeKey = (accountId: string, key: string) => `${accountId}\u0000${key}`;

export async function emitEvents(env: Env, config: Config, inputs: EmitEventInput[], opts: EmitOptions): Promise<EmitOutcome> {
  const at = (i: number, field: string) => (opts.batch ? `events[${i}].${field}` : field);
  const errors: FieldError[] = [];
  const now = Date.now();
  // Hashes and idempotency statements only when the call carries a key.
  const keyed = opts.idempotencyKey !== undefined || inputs.some((e) => e.idempotency_key !== undefined);
  const prepared: Prepared[] = await Promise.all(
    inputs.map(async (input, i) => {
      // Normalized once here, so every format signs exactly the bytes it sends.
      const data = JSON.stringify(input.data);
      if (new TextEncoder().encode(data).length > MAX_DATA_BYTES) {
        throw new ProblemError("payload_too_large", `${at(i, "data")} is over the ${MAX_DATA_BYTES / 1024} KiB cap for one event`, [
          { path: at(i, "data"), message: `larger than ${MAX_DATA_BYTES} bytes serialized` },
        ]);
      }
      const timestamp = input.timestamp ? Date.parse(input.timestamp) : now;
      const hash = keyed
        ? await sha256Hex(JSON.stringify([input.account_id, input.type, input.subject ?? null, data, input.timestamp ?? null]))
        : "";
      return { input, id: newId("event"), data, timestamp, hash };
    }),
  );

  const accountIds = [...new Set(inputs.map((e) => e.account_id))];
  const typeNames = [...new Set(inputs.map((e) => e.type))];
  const headerKey = opts.idempotencyKey ? [accountIds[0], `request:${opts.idempotencyKey}`] : null;
  const eventKeys = prepared.map((p) => (p.input.idempotency_key ? [p.input.account_id, `event:${p.input.idempotency_key}`] : null));
  const keyPairs = JSON.stringify([headerKey, ...eventKeys].filter((k) => k !== null));
  const headerScope = headerKey && scopeKey(headerKey[0], headerKey[1]);
  const eventScopes = eventKeys.map((k) => k && scopeKey(k[0], k[1]));
  const requestHash = keyed ? await sha256Hex(prepared.map((p) => p.hash).join(",")) : "";

  const db = database(env.DB);
  const [foundAccounts, foundTypes, candidates, ...maybeRemembered] = await db.batch([
    db.select({ id: accounts.id, name: accounts.name, email: accounts.email }).from(accounts).where(inArray(accounts.id, accountIds)),
    db.select({ name: eventTypes.name, schema: eventTypes.schema }).from(eventTypes).where(inArray(eventTypes.name, typeNames)),
    db
      .select({
        id: subscriptions.id,
        accountId: subscriptions.accountId,
        eventTypes: subscriptions.eventTypes,
        subjects: subscriptions.subjects,
        active: subscriptions.active,
      })
      .from(subscriptions)
      .where(inArray(subscriptions.accountId, accountIds)),
    ...(keyed
      ? [
          // Primary-key lookups, one per key.
          sqlAll<{ scope: string; request_hash: string; response: string }>(env.DB, sql`
            SELECT k.account_id || char(0) || k.key AS scope, k.request_hash, k.response
            FROM json_each(${keyPairs}) AS j
              JOIN idempotency_keys k ON k.account_id = j.value ->> 0 AND k.key = j.value ->> 1
            WHERE k.created_at > ${now - IDEMPOTENCY_TTL_MS}`),
        ]
      : []),
  ]);
  const remembered = (maybeRemembered[0] ?? []) as { scope: string; request_hash: string; response: string }[];

  // A replay of the whole call answers the first answer again.
  const rememberedByScope = new Map(remembered.map((r) => [r.scope, r]));
  if (headerScope) {
    const first = rememberedByScope.get(headerScope);
    if (first) {
      if (first.request_hash !== requestHash) {
        throw new ProblemError("conflict", "this Idempotency-Key was used with a different body in the last 24 h");
      }
      return { body: JSON.parse(first.response), replayed: true };
    }
  }

  const knownAccounts = new Map(foundAccounts.map((a) => [a.id, a]));
  const knownTypes = new Map(foundTypes.map((t) => [t.name, t]));
  const seenScopes = new Set<string>();
  prepared.forEach((p, i) => {
    if (!knownAccounts.has(p.input.account_id)) errors.push({ path: at(i, "account_id"), message: "no such account" });
    const type = knownTypes.get(p.input.type);
    if (!type) errors.push({ path: at(i, "type"), message: `unknown event type ${p.input.type}` });
    else if (type.schema) errors.push(...schemaErrors(type.schema, p.input.data, at(i, "data")));
    const scope = eventScopes[i];
    if (scope) {
      if (seenScopes.has(scope)) errors.push({ path: at(i, "idempotency_key"), message: "repeated within this call" });
      seenScopes.add(scope);
      const first = rememberedByScope.get(scope);
      if (first && first.request_hash !== p.hash) {
        errors.push({ path: at(i, "idempotency_key"), message: "used with a different event in the last 24 h" });
      }
    }
  });
  if (errors.some((e) => e.message.startsWith("used with a different"))) {
    throw new ProblemError("conflict", errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors);
  }
  if (errors.length) throw new ProblemError("validation", errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors);

  // Fan-out: matching is pure (core/matching); the rows go to D1 as one JSON parameter per table,
  // so 100 events x 20 subscriptions stay within D1's 100 bound parameters.
  const answers: EmitResultBody["data"] = [];
  const eventRows: unknown[][] = [];
  const deliveryRows: unknown[][] = [];
  const pendingIds: string[] = [];
  const rememberRows: unknown[][] = [];
  prepared.forEach((p, i) => {
    const replay = eventScopes[i] ? rememberedByScope.get(eventScopes[i]!) : undefined;
    if (replay) {
      answers.push(JSON.parse(replay.response));
      return;
    }
    const event = { type: p.input.type, subject: p.input.subject ?? null };
    let count = 0;
    for (const sub of candidates) {
      if (sub.accountId !== p.input.account_id || !subscriptionMatches(sub, event)) continue;
      const id = newId("delivery");
      deliveryRows.push([id, p.id, sub.id, sub.accountId, sub.active ? "pending" : "skipped", sub.active ? now : null]);
      if (sub.active) pendingIds.push(id);
      count++;
    }
    eventRows.push([p.id, p.input.account_id, p.input.type, event.subject, p.data, p.timestamp]);
    const answer = { id: p.id, deliveries: count };
    answers.push(answer);
    if (p.input.idempotency_key) {
      rememberRows.push([p.input.account_id, `event:${p.input.idempotency_key}`, p.hash, JSON.stringify(answer)]);
    }
  });
  const body: EmitResultBody = { data: answers };
  if (headerKey) {
    rememberRows.push([...headerKey, requestHash, JSON.stringify(body)]);
  }

  const rememberStatements = keyed
    ? [
        // Expired keys make room; a live one makes the INSERT below fail and the whole batch roll back.
        sqlRun(env.DB, sql`
          DELETE FROM idempotency_keys WHERE created_at <= ${now - IDEMPOTENCY_TTL_MS}
            AND (account_id, key) IN (SELECT value ->> 0, value ->> 1 FROM json_each(${keyPairs}))`),
        sqlRun(env.DB, sql`
          INSERT INTO ${idempotencyKeys} (account_id, key, request_hash, response, created_at)
          SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, ${now}
          FROM json_each(${JSON.stringify(rememberRows)})`),
      ]
    : [];
  try {
    await db.batch([
      sqlRun(env.DB, sql`
        INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at)
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, ${now}
        FROM json_each(${JSON.stringify(eventRows)})`),
      sqlRun(env.DB, sql`
        INSERT INTO deliveries (id, event_id, subscription_id, account_id, status, attempts_count, series_base,
          next_attempt_at, created_at, updated_at)
        SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, 0, 0, value ->> 5, ${now}, ${now}
        FROM json_each(${JSON.stringify(deliveryRows)})`),
      ...rememberStatements,
    ]);
  } catch (err) {
    // Another call with the same key won the race: answer as its replay.
    if (isUniqueViolation(err, "idempotency_keys") && !opts.raced) return emitEvents(env, config, inputs, { ...opts, raced: true });
    throw err;
  }
  await enqueueDeliveries(env, pendingIds);
  return { body, replayed: false };
}
