/**
 * The operator's operational webhooks: subscriptions of the system account, always in the
 * standard format, to operational event types only. Delivered, retried and logged like any
 * other subscription; the failure counter counts them but never switches them off.
 */
import { and, eq, notInArray } from "drizzle-orm";
import type { Config } from "../config";
import { formats } from "../core/formats";
import { idRegex, newId } from "../core/ids";
import { patternMatches } from "../core/matching";
import { OPERATIONAL_EVENT_TYPES, SYSTEM_ACCOUNT_ID } from "../core/operational";
import { type FieldError, notFound, ProblemError } from "../core/problem";
import { database } from "../db/client";
import { allShards, control } from "../db/shards";
import { type SubscriptionRow, subscriptions } from "../db/schema";
import { healthOf } from "../delivery/health";
import { newSubscriptionRow, sealSecret, targetErrors } from "./subscriptions";

const format = formats.standard;

export interface OperationalWebhookInput {
  url: string;
  eventTypes: string[];
  description: string;
  active: boolean;
  secret?: string;
}

const fail = (errors: FieldError[]) => {
  if (errors.length === 0) return;
  throw new ProblemError("validation", errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors);
};

/** Each pattern must take at least one operational event type. */
function eventTypeErrors(patterns: string[]): FieldError[] {
  return patterns.flatMap((p, i) =>
    OPERATIONAL_EVENT_TYPES.some((t) => patternMatches(p, t))
      ? []
      : [{ path: `event_types.${i}`, message: `${p} is not an operational event type (${OPERATIONAL_EVENT_TYPES.join(", ")})` }],
  );
}

function secretErrors(secret: string | undefined): FieldError[] {
  const problem = secret === undefined ? null : format.secret.check(secret);
  return problem ? [{ path: "secret", message: problem }] : [];
}

export async function createOperationalWebhook(env: Env, config: Config, input: OperationalWebhookInput) {
  fail([...targetErrors(input.url, format, config), ...eventTypeErrors(input.eventTypes), ...secretErrors(input.secret)]);
  const secret = input.secret ?? format.secret.generate();
  const now = Date.now();
  const row = newSubscriptionRow(
    {
      id: newId("operationalWebhook"),
      accountId: SYSTEM_ACCOUNT_ID,
      url: input.url,
      eventTypes: input.eventTypes,
      subjects: null,
      description: input.description,
      format: format.name,
      headers: {},
      metadata: {},
      active: input.active,
      listenSessionId: null,
      throttleRate: null,
    },
    await sealSecret(config, format, secret),
    now,
  );
  await database(env.DB).insert(subscriptions).values(row);
  return { row, secret };
}

/** The operational webhook with this id (anything else, a subscription's id included, is a 404). */
export async function findOperationalWebhook(env: Env, id: string): Promise<SubscriptionRow> {
  if (!idRegex("operationalWebhook").test(id)) throw notFound("Operational webhook");
  const [row] = await database(env.DB)
    .select()
    .from(subscriptions)
    .where(and(eq(subscriptions.id, id), eq(subscriptions.accountId, SYSTEM_ACCOUNT_ID)));
  if (!row) throw notFound("Operational webhook");
  return row;
}

export async function updateOperationalWebhook(
  env: Env,
  config: Config,
  current: SubscriptionRow,
  patch: Partial<Omit<OperationalWebhookInput, "secret">>,
) {
  fail([
    ...(patch.url !== undefined ? targetErrors(patch.url, format, config) : []),
    ...(patch.eventTypes !== undefined ? eventTypeErrors(patch.eventTypes) : []),
  ]);
  const reactivate = patch.active === true && !current.active;
  const changes: Partial<SubscriptionRow> = {
    ...(patch.url !== undefined ? { url: patch.url } : {}),
    ...(patch.eventTypes !== undefined ? { eventTypes: patch.eventTypes } : {}),
    ...(patch.description !== undefined ? { description: patch.description } : {}),
    ...(patch.active !== undefined ? { active: patch.active } : {}),
    ...(reactivate ? { consecutiveFailures: 0 } : {}),
    updatedAt: Date.now(),
  };
  await database(env.DB).update(subscriptions).set(changes).where(eq(subscriptions.id, current.id));
  if (reactivate) await healthOf(env, current.id).reset();
  return { ...current, ...changes } as SubscriptionRow;
}

/**
 * Every other shard's copy of the operational webhooks (the system account's subscriptions): an
 * operational event is written in the batch of the change it reports, on that account's shard,
 * and fans out to the copies there. Copied whole from the control database (they are few) after
 * each change, and by the sweep, which mends a shard that missed one.
 */
export async function replicateOperationalWebhooks(env: Env): Promise<void> {
  const others = allShards(env).filter((s) => s.DB !== control(env));
  if (others.length === 0) return;
  const rows = await database(control(env)).select().from(subscriptions).where(eq(subscriptions.accountId, SYSTEM_ACCOUNT_ID));
  const ids = rows.map((r) => r.id);
  await Promise.all(
    others.map(async (s) => {
      const db = database(s.DB);
      // Only what differs is written (the sweep calls this every minute).
      const copies = await db
        .select({ id: subscriptions.id, updatedAt: subscriptions.updatedAt })
        .from(subscriptions)
        .where(eq(subscriptions.accountId, SYSTEM_ACCOUNT_ID));
      const stamp = new Map(copies.map((c) => [c.id, c.updatedAt]));
      const changed = rows.filter((r) => stamp.get(r.id) !== r.updatedAt);
      const gone = copies.some((c) => !ids.includes(c.id));
      if (changed.length === 0 && !gone) return;
      await db.batch([
        db.delete(subscriptions).where(and(eq(subscriptions.accountId, SYSTEM_ACCOUNT_ID), ids.length ? notInArray(subscriptions.id, ids) : undefined)),
        ...changed.map((r) => db.insert(subscriptions).values(r).onConflictDoUpdate({ target: subscriptions.id, set: r })),
      ]);
    }),
  );
}
