/**
 * The D1 schema. drizzle-kit generates migrations/data from this file (`npm run db:generate`); the
 * control database's own tables (dashboard_sessions, sign_in_attempts, portal_links) take
 * their migrations in migrations/control (migrations/README.md).
 * events, deliveries, attempts and idempotency_keys are WITHOUT ROWID tables (migration
 * 0004, hand-written: drizzle cannot say it): keyed by their primary key alone, one row
 * written per insert fewer. They have no `rowid`: statements name rows by their key.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { DELIVERY_STATUSES } from "../core/delivery-state";
import { eventKey } from "./event-keys";
import { BUCKET_FLOORS } from "../core/duration-histogram";

const timestamps = {
  createdAt: integer("created_at").notNull(),
  updatedAt: integer("updated_at").notNull(),
};

export const accounts = sqliteTable("accounts", {
  id: text("id").primaryKey(),
  name: text("name").notNull().unique(),
  email: text("email"),
  plan: text("plan").notNull(),
  /** Its data shard (src/db/shards.ts): set at creation. */
  shard: integer("shard").notNull().default(0),
  /** On the control database: the shard a running move takes it to. On a shard's copy: frozen there while set. */
  movingTo: integer("moving_to"),
  ...timestamps,
});

export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    keyHash: text("key_hash").notNull(),
    prefix: text("prefix").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [uniqueIndex("api_keys_hash").on(t.keyHash), index("api_keys_account").on(t.accountId)],
);

export const eventTypes = sqliteTable("event_types", {
  name: text("name").primaryKey(),
  description: text("description").notNull().default(""),
  /** JSON text, as stored: read paths splice it into their answers without re-serializing. */
  schema: text("schema"),
  example: text("example"),
  deprecated: integer("deprecated", { mode: "boolean" }).notNull().default(false),
  ...timestamps,
});

export const subscriptions = sqliteTable(
  "subscriptions",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    url: text("url").notNull(),
    eventTypes: text("event_types", { mode: "json" }).$type<string[]>().notNull(),
    subjects: text("subjects", { mode: "json" }).$type<string[] | null>(),
    description: text("description").notNull().default(""),
    format: text("format").notNull(),
    headers: text("headers", { mode: "json" }).$type<Record<string, string>>().notNull(),
    metadata: text("metadata", { mode: "json" }).$type<Record<string, string>>().notNull(),
    active: integer("active", { mode: "boolean" }).notNull(),
    disabledReason: text("disabled_reason"),
    disabledAt: integer("disabled_at"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    /** AES-GCM ciphertext of the signing secret; null only for a clara hook without one. */
    secretEnc: text("secret_enc"),
    /** The secret before the last rotation, still signed with until previousSecretUntil. */
    previousSecretEnc: text("previous_secret_enc"),
    previousSecretUntil: integer("previous_secret_until"),
    /** Format-specific value derived once from the secret (smartshape: its bcrypt hash), encrypted. */
    derivedEnc: text("derived_enc"),
    /** Set on the temporary subscriptions of a `webhook listen` session: delivered over its WebSocket. */
    listenSessionId: text("listen_session_id"),
    /** Deliveries sent a second at most (1 to 10,000); null: no limit. */
    throttleRate: integer("throttle_rate"),
    ...timestamps,
  },
  (t) => [
    index("subscriptions_account").on(t.accountId, t.createdAt),
    index("subscriptions_listen").on(t.listenSessionId).where(sql`${t.listenSessionId} IS NOT NULL`),
  ],
);

/** A `webhook listen` session: its subscriptions live as long as its lease. */
export const listenSessions = sqliteTable(
  "listen_sessions",
  {
    id: text("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    /** When the sweep may delete it if its Durable Object has not (a safety net). */
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [index("listen_sessions_account").on(t.accountId)],
);

export const events = sqliteTable(
  "events",
  {
    /** Stored as its key, 16 bytes (src/db/event-keys.ts, migration 0017). */
    id: eventKey("id").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    subject: text("subject"),
    /** Normalized JSON text: every format signs exactly these bytes. */
    data: text("data").notNull(),
    timestamp: integer("timestamp").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  // Every index costs a written row per insert (D1 bills rows written): only what reads need.
  (t) => [index("events_account").on(t.accountId, t.createdAt)],
);

export const idempotencyKeys = sqliteTable(
  "idempotency_keys",
  {
    accountId: text("account_id").notNull(),
    key: text("key").notNull(),
    requestHash: text("request_hash").notNull(),
    response: text("response").notNull(),
    createdAt: integer("created_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.key] })],
);

export const deliveries = sqliteTable(
  "deliveries",
  {
    id: text("id").primaryKey(),
    /** Stored as its key, 16 bytes (src/db/event-keys.ts, migration 0017). */
    eventId: eventKey("event_id").notNull(),
    /** Whose account the delivery is: its subscription's (deleted ones in deleted_subscriptions); no account_id since migration 0016. */
    subscriptionId: text("subscription_id").notNull(),
    status: text("status", { enum: DELIVERY_STATUSES }).notNull(),
    attemptsCount: integer("attempts_count").notNull().default(0),
    /** attempts_count when the current series began (a redelivery starts a fresh series). */
    seriesBase: integer("series_base").notNull().default(0),
    nextAttemptAt: integer("next_attempt_at"),
    /** Unused since migration 0015 (a claim's lease is a row of `leases`), left on rows written before. */
    leaseUntil: integer("lease_until"),
    /**
     * The latest attempt, as a JSON array (lifecycle's `encodeAttempt`): most deliveries
     * succeed at once and never write an attempts row. Earlier attempts move to `attempts`.
     */
    lastAttempt: text("last_attempt"),
    ...timestamps,
  },
  (t) => [
    // Only deliveries still to be sent or in flight have a next_attempt_at: the sweep's index
    // stays small, and claiming (which leaves next_attempt_at alone) does not touch it.
    index("deliveries_due").on(t.nextAttemptAt).where(sql`${t.nextAttemptAt} IS NOT NULL`),
    // Also how an event's deliveries are found: through its account's subscriptions, at the
    // event's created_at, which its deliveries share (migration 0006; no index on event_id).
    index("deliveries_subscription").on(t.subscriptionId, t.createdAt),
  ],
);

/**
 * Subscriptions deleted while their deliveries are still in the log, so that an event's
 * deliveries (and an account's, when it is erased) can still be found through them. Written by
 * the trigger `subscriptions_deleted` (migration 0006, hand-written: drizzle cannot say it),
 * purged with the last delivery of each.
 */
export const deletedSubscriptions = sqliteTable(
  "deleted_subscriptions",
  {
    accountId: text("account_id").notNull(),
    id: text("id").notNull(),
    deletedAt: integer("deleted_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.id] })],
);

export const attempts = sqliteTable(
  "attempts",
  {
    id: text("id").primaryKey(),
    deliveryId: text("delivery_id").notNull(),
    number: integer("number").notNull(),
    startedAt: integer("started_at").notNull(),
    durationMs: integer("duration_ms").notNull(),
    outcome: text("outcome", { enum: ["success", "http_status", "timeout", "network"] }).notNull(),
    statusCode: integer("status_code"),
    error: text("error"),
    responseHeaders: text("response_headers", { mode: "json" }).$type<Record<string, string>>(),
    responseBody: text("response_body"),
  },
  (t) => [index("attempts_delivery").on(t.deliveryId, t.number)],
);

/**
 * Attempts rolled up per subscription and UTC hour (src/delivery/rollup.ts), the source of the
 * stats: written by the settle batch, pruned by the sweep. WITHOUT ROWID (migration 0009), keyed
 * by account first; no other index. `ms_<floor>` counts attempts whose duration falls in that
 * bucket of src/core/duration-histogram.ts.
 */
export const attemptRollups = sqliteTable(
  "attempt_rollups",
  {
    accountId: text("account_id").notNull(),
    subscriptionId: text("subscription_id").notNull(),
    /** The hour's start, in ms. */
    hour: integer("hour").notNull(),
    attempts: integer("attempts").notNull(),
    succeeded: integer("succeeded").notNull(),
    httpStatus: integer("http_status").notNull(),
    timeout: integer("timeout").notNull(),
    network: integer("network").notNull(),
    /** Deliveries whose series of attempts ended failed with an attempt of this hour. */
    deliveriesFailed: integer("deliveries_failed").notNull(),
    maxMs: integer("max_ms").notNull(),
    ...(Object.fromEntries(BUCKET_FLOORS.map((f) => [`ms${f}`, integer(`ms_${f}`).notNull().default(0)])) as Record<
      `ms${(typeof BUCKET_FLOORS)[number]}`,
      ReturnType<typeof integer>
    >),
  },
  (t) => [primaryKey({ columns: [t.accountId, t.subscriptionId, t.hour] })],
);

/**
 * A dashboard session: its signed cookie names the row, signing out deletes it. A `key` session
 * was signed in with an API key, and revoking the key deletes it (the cascade); a `portal`
 * session was opened by a portal link and has no key (the operator ends them by account).
 * Rebuilt with its kind by migration 0008.
 */
export const dashboardSessions = sqliteTable(
  "dashboard_sessions",
  {
    id: text("id").primaryKey(),
    kind: text("kind", { enum: ["key", "portal"] }).notNull(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    keyId: text("key_id").references(() => apiKeys.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
  },
  (t) => [
    index("dashboard_sessions_key").on(t.keyId),
    index("dashboard_sessions_account").on(t.accountId, t.kind),
    check(
      "dashboard_sessions_kind",
      sql`(${t.kind} = 'key' AND ${t.keyId} IS NOT NULL) OR (${t.kind} = 'portal' AND ${t.keyId} IS NULL)`,
    ),
  ],
);

/**
 * A portal link (POST /v1/accounts/{id}/portal-links): only the SHA-256 of its token is kept.
 * Redeeming it sets used_at and the session it opened, once; rows stay a day past expiry so a
 * late click is told the link expired or was used rather than that it never existed.
 */
export const portalLinks = sqliteTable(
  "portal_links",
  {
    tokenHash: text("token_hash").primaryKey(),
    accountId: text("account_id")
      .notNull()
      .references(() => accounts.id, { onDelete: "cascade" }),
    createdAt: integer("created_at").notNull(),
    expiresAt: integer("expires_at").notNull(),
    usedAt: integer("used_at"),
    sessionId: text("session_id"),
  },
  (t) => [index("portal_links_account").on(t.accountId)],
);

/** Dashboard sign-ins counted per bucket (a hashed key prefix or client) in a fixed window. */
export const signInAttempts = sqliteTable("sign_in_attempts", {
  bucket: text("bucket").primaryKey(),
  count: integer("count").notNull(),
  windowStart: integer("window_start").notNull(),
});

export type AccountRow = typeof accounts.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type SubscriptionRow = typeof subscriptions.$inferSelect;
export type EventTypeRow = typeof eventTypes.$inferSelect;
export type EventRow = typeof events.$inferSelect;
export type DeliveryRow = typeof deliveries.$inferSelect;
export type AttemptRow = typeof attempts.$inferSelect;
