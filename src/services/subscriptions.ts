/**
 * Subscriptions as every face (/v1, Clara, SmartShape) creates and changes them:
 * target rules, catalog checks, secrets encrypted at rest, the plan cap.
 */
import { and, asc, eq, isNull, sql } from "drizzle-orm";
import { type Config, plans } from "../config";
import { decryptSecret, encryptSecret } from "../core/crypto";
import { type Format, type FormatName, formats } from "../core/formats";
import { customHeaderErrors } from "../core/headers";
import { idRegex, newId } from "../core/ids";
import { unknownPatterns } from "../core/matching";
import { type FieldError, notFound, ProblemError } from "../core/problem";
import { checkTargetUrl } from "../core/url-safety";
import { database, refusedByGuard, sqlAll, sqlRun } from "../db/client";
import { type AccountRow, eventTypes, type SubscriptionRow, subscriptions } from "../db/schema";
import { healthOf } from "../delivery/health";
import { skipPendingOfSubscription } from "../delivery/lifecycle";
import {
  batchWithEvents,
  type OperationalEvent,
  subscriptionCreated,
  subscriptionDeleted,
  subscriptionDisabled,
  subscriptionEnabled,
  subscriptionUpdated,
} from "./operational";

export interface SubscriptionInput {
  url: string;
  eventTypes: string[];
  subjects: string[] | null;
  description: string;
  format: FormatName;
  headers: Record<string, string>;
  metadata: Record<string, string>;
  active: boolean;
  secret?: string | null;
  /** Deliveries a second at most; null or absent: no limit. */
  throttleRate?: number | null;
}

const fail = (errors: FieldError[]) => {
  if (errors.length === 0) return;
  throw new ProblemError("validation", errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors);
};

export function targetErrors(url: string, format: Format, config: Config): FieldError[] {
  const check = checkTargetUrl(url, { schemes: format.schemes, allowInsecure: config.allowInsecureTargets });
  return check.ok ? [] : [{ path: "url", message: check.rule }];
}

/** Every name must be in the catalog; new subscriptions may not pick deprecated ones. */
export async function eventTypeErrors(env: Env, patterns: string[], previously: string[] = []): Promise<FieldError[]> {
  const catalog = await database(env.DB)
    .select({ name: eventTypes.name, deprecated: eventTypes.deprecated })
    .from(eventTypes);
  const usable = catalog.filter((t) => !t.deprecated).map((t) => t.name);
  const deprecated = new Set(catalog.filter((t) => t.deprecated).map((t) => t.name));
  const fresh = patterns.filter((p) => !previously.includes(p));
  return unknownPatterns(fresh, usable).map((p) => ({
    path: `event_types.${patterns.indexOf(p)}`,
    message: deprecated.has(p) ? `${p} is deprecated: new subscriptions cannot use it` : `unknown event type ${p}`,
  }));
}

function secretErrors(format: Format, secret: string | null | undefined): FieldError[] {
  if (secret === undefined || secret === null) {
    return format.secret.kind === "required" ? [{ path: "secret", message: `format ${format.name} needs a secret` }] : [];
  }
  const problem = format.secret.check(secret);
  return problem ? [{ path: "secret", message: problem }] : [];
}

/** The columns that hold a secret: encrypted, with the format's derived value computed once. */
export async function sealSecret(config: Config, format: Format, secret: string | null) {
  if (secret === null) return { secretEnc: null, derivedEnc: null };
  const derived = format.secret.derive ? await format.secret.derive(secret) : null;
  return {
    secretEnc: await encryptSecret(config.secretsKey, secret),
    derivedEnc: derived === null ? null : await encryptSecret(config.secretsKey, derived),
  };
}

/** What a new subscription's creator decides; the rest starts the same for every subscription. */
export type NewSubscription = Pick<
  SubscriptionRow,
  "id" | "accountId" | "url" | "eventTypes" | "subjects" | "description" | "format" | "headers" | "metadata" | "active" | "listenSessionId" | "throttleRate"
>;

/** A new subscription's row, its secret already sealed (sealSecret): healthy, never rotated. */
export const newSubscriptionRow = (fields: NewSubscription, sealed: Awaited<ReturnType<typeof sealSecret>>, now: number): SubscriptionRow => ({
  ...fields,
  disabledReason: null,
  disabledAt: null,
  consecutiveFailures: 0,
  ...sealed,
  previousSecretEnc: null,
  previousSecretUntil: null,
  createdAt: now,
  updatedAt: now,
});

export async function createSubscription(env: Env, config: Config, account: AccountRow, input: SubscriptionInput) {
  const format = formats[input.format];
  const plan = plans[account.plan as keyof typeof plans];
  const cap = plan?.maxSubscriptions ?? 0;
  const [typeErrors, used] = await Promise.all([eventTypeErrors(env, input.eventTypes), countedSubscriptions(env, account.id)]);
  fail([...targetErrors(input.url, format, config), ...customHeaderErrors(input.headers), ...secretErrors(format, input.secret), ...typeErrors]);
  // Refused before sealing: a smartshape token's bcrypt costs ~100 ms of CPU, not to be spent on a refusal.
  if (used >= cap) throw planLimit(account.plan, cap);
  const secret = input.secret ?? (format.secret.kind === "optional" ? null : format.secret.generate());
  const now = Date.now();
  const row = newSubscriptionRow(
    {
      id: newId("subscription"),
      accountId: account.id,
      url: input.url,
      eventTypes: input.eventTypes,
      subjects: input.subjects,
      description: input.description,
      format: input.format,
      headers: input.headers,
      metadata: input.metadata,
      active: input.active,
      listenSessionId: null,
      throttleRate: input.throttleRate ?? null,
    },
    await sealSecret(config, format, secret),
    now,
  );
  // The cap is checked again in the batch that inserts, so concurrent creates cannot pass it: past
  // it, the guard aborts the batch (json() of a non-JSON string is an error), operational event and all.
  const counted = sql`(SELECT count(*) FROM subscriptions WHERE account_id = ${row.accountId} AND listen_session_id IS NULL)`;
  try {
    await batchWithEvents(
      env,
      [
        sqlAll(env.DB, sql`SELECT CASE WHEN ${counted} >= ${cap} THEN json('plan limit') END`),
        sqlRun(env.DB, sql`
          INSERT INTO subscriptions (id, account_id, url, event_types, subjects, description, format, headers, metadata,
            active, consecutive_failures, secret_enc, derived_enc, throttle_rate, created_at, updated_at)
          VALUES (${row.id}, ${row.accountId}, ${row.url}, ${JSON.stringify(row.eventTypes)},
            ${row.subjects === null ? null : JSON.stringify(row.subjects)}, ${row.description}, ${row.format},
            ${JSON.stringify(row.headers)}, ${JSON.stringify(row.metadata)}, ${row.active ? 1 : 0}, 0,
            ${row.secretEnc}, ${row.derivedEnc}, ${row.throttleRate}, ${now}, ${now})`),
      ],
      [subscriptionCreated(row)],
      now,
    );
  } catch (err) {
    if (refusedByGuard(err)) throw planLimit(account.plan, cap);
    throw err;
  }
  return { row, secret };
}

/** The subscriptions the plan cap counts: all of the account's but its listen sessions'. */
async function countedSubscriptions(env: Env, accountId: string): Promise<number> {
  const [row] = await sqlAll<{ n: number }>(
    env.DB,
    sql`SELECT count(*) AS n FROM subscriptions WHERE account_id = ${accountId} AND listen_session_id IS NULL`,
  );
  return row?.n ?? 0;
}

const planLimit = (plan: string, cap: number) =>
  new ProblemError(
    "plan_limit",
    `the ${plan} plan allows ${cap} subscriptions and this account has ${cap}: delete one or upgrade the plan`,
    undefined,
    { plan, limit: cap },
  );

/** The subscription with this id if it belongs to the account (another account's is a 404). */
export async function findSubscription(env: Env, accountId: string, id: string, format?: FormatName) {
  if (!idRegex("subscription").test(id)) throw notFound("Subscription");
  const [row] = await database(env.DB)
    .select()
    .from(subscriptions)
    .where(
      and(
        eq(subscriptions.id, id),
        eq(subscriptions.accountId, accountId),
        format ? eq(subscriptions.format, format) : undefined,
      ),
    );
  if (!row) throw notFound("Subscription");
  return row;
}

export type SubscriptionPatch = Partial<SubscriptionInput>;

/** A patch's field as /v1 names it (the faces' errors name what was refused). */
const apiField = (k: string) => ({ eventTypes: "event_types", throttleRate: "throttle_rate" })[k] ?? k;

/**
 * A `webhook listen` subscription belongs to its session: pointing it elsewhere would
 * make it an ordinary subscription outside the plan's cap, so no face may change what it
 * is, rotate its secret (shared by the whole session) or delete it; the session ends it.
 * Only `active` may be toggled, which changes neither where it delivers nor for how long.
 */
function refuseListenChange(row: SubscriptionRow, what: string, fields: string[] = []): void {
  if (row.listenSessionId === null) return;
  const detail =
    `${row.id} belongs to the webhook listen session ${row.listenSessionId}: ${what}; ` +
    `only the session can end it (stop the listener, or DELETE /v1/listen/${row.listenSessionId})`;
  const message = `cannot be changed: the subscription belongs to the webhook listen session ${row.listenSessionId}`;
  throw new ProblemError("forbidden", detail, fields.map((path) => ({ path, message })));
}

export async function updateSubscription(env: Env, config: Config, current: SubscriptionRow, patch: SubscriptionPatch) {
  const locked = Object.entries(patch).flatMap(([k, v]) => (k !== "active" && v !== undefined ? [apiField(k)] : []));
  if (locked.length) refuseListenChange(current, `its ${locked.join(", ")} cannot be changed (only active can)`, locked);
  const format = formats[patch.format ?? (current.format as FormatName)];
  const formatChanged = format.name !== current.format;
  const url = patch.url ?? current.url;
  const errors: FieldError[] = [];
  if (patch.url !== undefined || formatChanged) errors.push(...targetErrors(url, format, config));
  if (patch.headers !== undefined) errors.push(...customHeaderErrors(patch.headers));
  if (patch.eventTypes !== undefined) errors.push(...(await eventTypeErrors(env, patch.eventTypes, current.eventTypes)));
  // On a format change the secret carries over; a hook without one gets one if the new format generates them.
  let carried: string | null = null;
  if (patch.secret !== undefined) errors.push(...secretErrors(format, patch.secret));
  else if (formatChanged) {
    const existing = current.secretEnc ? await decryptSecret(config.secretsKey, current.secretEnc) : null;
    carried = existing ?? (format.secret.kind === "generated" ? format.secret.generate() : null);
    const keep = secretErrors(format, carried);
    if (keep.length) {
      errors.push({ path: "secret", message: `the current secret does not fit format ${format.name}: give a new one` });
    }
  }
  fail(errors);
  const now = Date.now();
  const reactivate = patch.active === true && !current.active;
  const changes: Partial<SubscriptionRow> = {
    ...(patch.url !== undefined ? { url: patch.url } : {}),
    ...(patch.eventTypes !== undefined ? { eventTypes: patch.eventTypes } : {}),
    ...(patch.subjects !== undefined ? { subjects: patch.subjects } : {}),
    ...(patch.description !== undefined ? { description: patch.description } : {}),
    ...(patch.format !== undefined ? { format: patch.format } : {}),
    ...(patch.headers !== undefined ? { headers: patch.headers } : {}),
    ...(patch.metadata !== undefined ? { metadata: patch.metadata } : {}),
    ...(patch.active !== undefined ? { active: patch.active } : {}),
    ...(patch.throttleRate !== undefined ? { throttleRate: patch.throttleRate } : {}),
    ...(reactivate ? { disabledReason: null, disabledAt: null, consecutiveFailures: 0 } : {}),
    ...(patch.secret !== undefined
      ? { ...(await sealSecret(config, format, patch.secret)), previousSecretEnc: null, previousSecretUntil: null }
      : formatChanged && carried !== null
        ? await sealSecret(config, format, carried)
        : {}),
    updatedAt: now,
  };
  const row = { ...current, ...changes } as SubscriptionRow;
  await batchWithEvents(
    env,
    [database(env.DB).update(subscriptions).set(changes).where(eq(subscriptions.id, current.id))],
    updateEvents(current, row, patch, now),
    now,
  );
  // Re-activation starts the failure counter from zero, and a new rate the throttle's line
  // (a Durable Object call only then).
  if (reactivate) await healthOf(env, current.id).reset();
  else if (patch.throttleRate !== undefined && patch.throttleRate !== current.throttleRate) await healthOf(env, current.id).newLine();
  return { row, reactivated: reactivate };
}

/**
 * What a change tells the operator: `subscription.updated` naming the fields that changed
 * (switching it off or on alone is `subscription.disabled` or `.enabled`, nothing more).
 * A listen subscription's toggles tell nothing.
 */
function updateEvents(before: SubscriptionRow, after: SubscriptionRow, patch: SubscriptionPatch, now: number): OperationalEvent[] {
  if (before.listenSessionId !== null) return [];
  const compared = ["url", "eventTypes", "subjects", "description", "format", "headers", "metadata", "throttleRate", "active"] as const;
  const changed: string[] = compared.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k])).map(apiField);
  if (patch.secret !== undefined) changed.push("secret");
  const events: OperationalEvent[] = [];
  if (changed.some((k) => k !== "active")) events.push(subscriptionUpdated(after, changed));
  if (before.active && !after.active) {
    const reason = "switched off by its account (active: false)";
    const d = { trigger: "manual" as const, reason, consecutiveFailures: before.consecutiveFailures, failingSince: null };
    events.push(subscriptionDisabled(before.id, d, now));
  }
  if (!before.active && after.active) events.push(subscriptionEnabled(before, now));
  return events;
}

/** Deleting keeps the log; what was still to be sent becomes `skipped`. */
export async function deleteSubscription(env: Env, row: SubscriptionRow) {
  refuseListenChange(row, "it cannot be deleted on its own");
  const db = database(env.DB);
  const now = Date.now();
  // The event is written before the row goes, in the same batch, so that it shows the subscription as it was.
  await batchWithEvents(env, [], [subscriptionDeleted(row, "deleted by its account", now)], now, [
    db.delete(subscriptions).where(eq(subscriptions.id, row.id)),
    skipPendingOfSubscription(env, row.id, now),
  ]);
  await healthOf(env, row.id).destroy();
}

export async function readSecret(config: Config, row: SubscriptionRow): Promise<string | null> {
  return row.secretEnc ? decryptSecret(config.secretsKey, row.secretEnc) : null;
}

/** A new secret; standard keeps signing with the old one for its grace period too. */
export async function rotateSecret(env: Env, config: Config, row: SubscriptionRow, given?: string) {
  refuseListenChange(row, "its secret is the session's and cannot be rotated");
  const format = formats[row.format as FormatName];
  fail(secretErrors(format, given));
  const secret = given ?? format.secret.generate();
  const now = Date.now();
  const grace = format.secret.rotationGraceSeconds;
  const keepPrevious = grace > 0 && row.secretEnc !== null;
  const changes = {
    ...(await sealSecret(config, format, secret)),
    previousSecretEnc: keepPrevious ? row.secretEnc : null,
    previousSecretUntil: keepPrevious ? now + grace * 1000 : null,
    updatedAt: now,
  };
  await batchWithEvents(
    env,
    [database(env.DB).update(subscriptions).set(changes).where(eq(subscriptions.id, row.id))],
    [subscriptionUpdated({ ...row, ...changes }, ["secret"])],
    now,
  );
  return { secret, previousSecretExpiresAt: changes.previousSecretUntil };
}

/** Every subscription of an account in one format, oldest first (the seed faces list them whole). */
export async function listSubscriptions(env: Env, accountId: string, format: FormatName) {
  return database(env.DB)
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.accountId, accountId), eq(subscriptions.format, format), isNull(subscriptions.listenSessionId)))
    .orderBy(asc(subscriptions.createdAt), asc(subscriptions.id));
}
