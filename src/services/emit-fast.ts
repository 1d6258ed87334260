/**
 * Emit in one D1 round trip, once this isolate knows the call's event types. The catalog is
 * the only thing kept in memory: each entry carries its row's updated_at, and the batch that
 * writes checks every entry it relied on against D1 (and that every account exists and lives on
 * this shard, not frozen by a move: src/delivery/account-move.ts) before
 * anything counts: a stale entry or an unknown account aborts the whole batch, and the call
 * goes the careful way (read, then write), which also refreshes the entries. Subscriptions are
 * never cached: the fan-out matches them in the statement that inserts the deliveries, so a
 * change made before the call is always seen. Calls with idempotency keys go the careful way.
 * Calls that arrive together share that round trip (./emit-group).
 */
import { sql } from "drizzle-orm";
import { schemaErrors } from "../core/json-schema";
import { refusedByGuard, sqlAll, sqlRun } from "../db/client";
import { eventKeySql } from "../db/event-keys";
import { livesHereSql } from "../db/shards";
import { fanOutStatement } from "../delivery/lifecycle";
import type { PreparedCall } from "./emit-plan";
import { type GroupKind, writeTogether } from "./emit-group";
import type { EmitResultBody } from "./emit-schema";

export interface CatalogEntry {
  name: string;
  schema: string | null;
  updatedAt: number;
}

const catalog = new Map<string, CatalogEntry>();
const CATALOG_LIMIT = 10_000;

/** What the careful way read of the catalog, for the next calls. */
export function rememberCatalog(entries: CatalogEntry[]): void {
  if (catalog.size + entries.length > CATALOG_LIMIT) catalog.clear();
  for (const e of entries) catalog.set(e.name, e);
}

/** Events as rows `[id, account_id, type, subject, data, timestamp]`, one JSON parameter for them all. */
export const insertEventsStatement = (env: Env, rows: unknown[][], now: number) =>
  sqlRun(env.DB, sql`
    INSERT INTO events (id, account_id, type, subject, data, timestamp, created_at)
    SELECT ${eventKeySql(sql`value ->> 0`)}, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, ${now}
    FROM json_each(${JSON.stringify(rows)})`);

/** Written; its pending deliveries are enqueued once it is answered (./emit-group). */
export interface FastEmit {
  body: EmitResultBody;
}

/** One call's share of a group (./emit-group): what its guards rely on and the rows it writes. */
interface FastItem {
  /** Catalog entries as `[name, updated_at]`. */
  relied: [string, number][];
  accountIds: string[];
  /** Events as rows `[id, account_id, type, subject, data, timestamp]`. */
  eventRows: unknown[][];
  now: number;
}

type Created = { id: string; event_id: string; status: "pending" | "skipped" };

/**
 * Three statements for a whole group: the guards of every call, its events, its deliveries.
 * Built by whichever call's request sends the group: statements belong to the request that
 * prepares them. The group's rows take the time of its first call.
 */
const fastWrite: GroupKind<FastItem, Created[]> = {
  statements(own, items) {
    const relied = [...new Map(items.flatMap((i) => i.relied.map(([name, at]) => [`${name}\u0000${at}`, [name, at]]))).values()];
    const accountIds = [...new Set(items.flatMap((i) => i.accountIds))];
    const eventRows = items.flatMap((i) => i.eventRows);
    const now = items[0].now;
    return [
      // The guards: json() of a non-JSON string is an error, the way a statement aborts the batch.
      // Two calls relying on different versions of one entry: one of them is stale, and the counts differ.
      sqlAll(own.DB, sql`
        SELECT CASE
          WHEN (SELECT count(*) FROM json_each(${JSON.stringify(relied)}) AS t
            JOIN event_types et ON et.name = t.value ->> 0 AND et.updated_at = t.value ->> 1) != ${relied.length}
          THEN json('the catalog changed')
          WHEN (SELECT count(*) FROM accounts WHERE id IN (SELECT value FROM json_each(${JSON.stringify(accountIds)}))
              AND ${livesHereSql(own)}) != ${accountIds.length}
          THEN json('no such account') END`),
      insertEventsStatement(own, eventRows, now),
      // The fan-out needs no data: [id, account_id, type, subject].
      fanOutStatement(own, eventRows.map((r) => r.slice(0, 4)), now),
    ];
  },
  split(results, items) {
    const byEvent = new Map<string, Created[]>();
    for (const d of results[2] as Created[]) byEvent.set(d.event_id, [...(byEvent.get(d.event_id) ?? []), d]);
    return items.map((i) => i.eventRows.flatMap((r) => byEvent.get(r[0] as string) ?? []));
  },
  pendingOf: (created) => created.filter((d) => d.status === "pending").map((d) => d.id),
};

/**
 * The call written in one round trip, or null when it must go the careful way: a key, a type
 * this isolate has not seen, data its cached schema refuses (the careful way names the error),
 * or a guard that failed in D1 (nothing was written then).
 */
export async function emitInOneRoundTrip(env: Env, call: PreparedCall, now: number): Promise<FastEmit | null> {
  if (call.keyed) return null;
  const entries = call.typeNames.map((name) => catalog.get(name));
  if (entries.some((e) => e === undefined)) return null;
  for (const p of call.events) {
    const schema = catalog.get(p.input.type)!.schema;
    if (schema !== null && schemaErrors(schema, p.input.data, "data").length) return null;
  }
  const item: FastItem = {
    relied: entries.map((e) => [e!.name, e!.updatedAt]),
    accountIds: call.accountIds,
    eventRows: call.events.map((p) => [p.id, p.input.account_id, p.input.type, p.input.subject ?? null, p.data, p.timestamp]),
    now,
  };
  let created: Created[];
  try {
    // Each event's data is bound once, at most twice as long once escaped as a JSON string: a
    // bound on what the group's cap counts, without serializing it again.
    created = await writeTogether(env, fastWrite, item, 2 * call.events.reduce((n, p) => n + p.data.length + 200, 0));
  } catch (err) {
    // Only a guard's refusal sends the call the careful way (nothing was written then); any
    // other failure is the caller's, as on the careful way.
    if (!refusedByGuard(err)) throw err;
    for (const name of call.typeNames) catalog.delete(name);
    return null;
  }
  const counts = new Map<string, number>();
  for (const d of created) counts.set(d.event_id, (counts.get(d.event_id) ?? 0) + 1);
  return { body: { data: call.events.map((p) => ({ id: p.id, deliveries: counts.get(p.id) ?? 0 })) } };
}
