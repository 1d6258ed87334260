/**
 * Moving an account to another data shard (src/db/shards.ts), one Durable Object per account
 * that runs the move in steps from its alarm, each step small enough for one invocation and
 * safe to run again:
 *
 * 1. freeze: the source's copy of the account row gets `moving_to`. From that commit on its emits
 *    answer 503 with Retry-After (the emit guard and the careful way both read it), its API
 *    writes too (api/auth), and the consumer claims none of its deliveries (lifecycle.claim). The
 *    target gets the account row, frozen as well.
 * 2. drain: waits until none of its deliveries is in flight on the source (a dead consumer's lease
 *    until it runs out), and a moment for requests let in before the freeze.
 * 3. copy: what its next requests and deliveries need: its API keys' copies, subscriptions
 *    (deleted ones and listen sessions too), idempotency keys, stats, and its deliveries still to be
 *    sent with their events and attempts, in chunks, INSERT OR IGNORE (a step run twice copies
 *    nothing twice).
 * 4. switch: the target's copy is unfrozen and the control row says the target; the pending
 *    deliveries are enqueued on the target's queue, each when due. Messages still in the source's
 *    queue find their deliveries frozen there and are dropped: the target sends them, once.
 * 5. history: the rest of its log (every event, every delivery and attempt), oldest first, while
 *    the account works on the target; its log reads there lack the older part until this ends.
 *    Nothing changes on the source meanwhile (frozen), so the copy is exact.
 * 6. erase: the account's rows on the source go, then the control row's `moving_to`: a new move may start.
 *
 * So the account is frozen (steps 1 to 4) for as long as its live state takes to copy, not its log.
 */
import { DurableObject } from "cloudflare:workers";
import { eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import { MAX_QUEUE_DELAY_SECONDS } from "../core/retry";
import { ProblemError } from "../core/problem";
import { database, sqlAll, sqlRun } from "../db/client";
import { eventIdSql, eventKeySql } from "../db/event-keys";
import { type AccountRow, accounts, apiKeys, deliveries, events, listenSessions, subscriptions } from "../db/schema";
import { control, forgetHome, livesOn, type ShardEnv, shardEnv } from "../db/shards";
import { eraseFromShard } from "../services/accounts";
import { enqueueDeliveries } from "../services/enqueue";
import { deliveryOfAccountSql, promoteFreshOfAccountStatement, statusIsSql } from "./lifecycle";

/** Rows read per chunk; a chunk's write is split further so that no JSON parameter passes ~1.5 MB. */
const CHUNK_ROWS = 500;
const PARAM_BYTES = 1_500_000;
/** Chunks per alarm: each is one read and one write or more, well under 1,000 D1 queries an invocation. */
const CHUNKS_PER_STEP = 100;
/** A step that failed runs again this much later. */
const RETRY_MS = 5_000;
/** Requests authenticated just before the freeze get this long to finish their writes. */
const SETTLE_MS = 1_000;

type Phase = "freeze" | "drain" | "copy" | "switch" | "history" | "erase" | "done";

interface MoveState {
  accountId: string;
  from: number;
  to: number;
  phase: Phase;
  /** The copy's place: the table being copied and its cursor. */
  table: number;
  cursor: string | null;
  subscriptionIds: string[];
  frozenAt: number;
  historyFrom: number;
  copied: number;
}

/**
 * Starts a move: 409 when one runs already (the control row's `moving_to` is set). The account
 * shows `moving_to` from now on, and `shard` as the target once it has switched.
 */
export async function startMove(env: Env, account: AccountRow, to: number): Promise<void> {
  const claimed = await sqlAll<{ id: string }>(control(env), sql`
    UPDATE accounts SET moving_to = ${to} WHERE id = ${account.id} AND moving_to IS NULL RETURNING id`);
  if (claimed.length === 0) throw new ProblemError("conflict", `${account.id} is being moved already: wait until it is done`);
  try {
    await moveOf(env, account.id).start(account.id, account.shard, to);
  } catch (err) {
    await sqlRun(control(env), sql`UPDATE accounts SET moving_to = NULL WHERE id = ${account.id}`);
    throw err;
  }
}

/** Frozen by a move that has not switched yet: its writes wait (src/api/auth, the dashboard, redelivery). */
export const isFrozen = (a: Pick<AccountRow, "shard" | "movingTo">) => !livesOn(a, a.shard);

/**
 * The 503 a frozen account's writes and emits get, with Retry-After: naming the account's target,
 * or, for an emit call (which may name several accounts), that one of its accounts is moving.
 */
export const frozenProblem = (a?: Pick<AccountRow, "movingTo">) =>
  Object.assign(
    new ProblemError(
      "unavailable",
      `${a ? `the account is moving to shard ${a.movingTo}` : "an account of this call is moving to another shard"}: try again in a few seconds`,
    ),
    { retryAfter: 2 },
  );

export const moveOf = (env: Env, accountId: string) => env.ACCOUNT_MOVE.get(env.ACCOUNT_MOVE.idFromName(accountId));

interface Copied {
  name: string;
  read: (src: ShardEnv, s: MoveState, limit: number) => Promise<Record<string, unknown>[]>;
  cursorOf: (row: Record<string, unknown>) => string;
}

const byAccount = (table: string, key: string): Copied => ({
  name: table,
  read: (src, s, limit) =>
    sqlAll(src.DB, sql`SELECT * FROM ${sql.identifier(table)} WHERE account_id = ${s.accountId} AND ${sql.identifier(key)} > ${s.cursor ?? ""}
      ORDER BY ${sql.identifier(key)} LIMIT ${limit}`),
  cursorOf: (r) => String(r[key]),
});

const apiKeyCopies = byAccount("api_keys", "id");

/** Columns that hold an event's key (src/db/event-keys.ts): read as text, for JSON, and written back as keys. */
const KEY_COLUMNS: Record<string, readonly string[]> = { events: ["id"], deliveries: ["event_id"] };

/** Every column of `events` or `deliveries` (as `alias`), their event keys as ids. */
function copyColumns(table: "events" | "deliveries", alias: string): SQL {
  const keys = KEY_COLUMNS[table]!;
  const names = Object.values(getTableColumns(table === "events" ? events : deliveries)).map((c) => c.name);
  return sql.join(
    names.map((n) => (keys.includes(n) ? sql`${eventIdSql(sql.raw(`${alias}.${n}`))} AS ${sql.identifier(n)}` : sql.raw(`${alias}.${n}`))),
    sql`, `,
  );
}

/**
 * Copied while the account is frozen: what the account's next requests and deliveries need.
 * Its deliveries still to be sent (through the small partial index deliveries_due) bring their
 * events and attempts along.
 */
const LIVE: Copied[] = [
  // Its API keys' copies (services/api-keys), read from the keys themselves: until they are there,
  // its requests are authenticated on the control database.
  { ...apiKeyCopies, read: (src, s, limit) => apiKeyCopies.read({ ...src, DB: control(src) }, s, limit) },
  byAccount("subscriptions", "id"),
  byAccount("deleted_subscriptions", "id"),
  byAccount("listen_sessions", "id"),
  byAccount("idempotency_keys", "key"),
  {
    name: "attempt_rollups",
    read: (src, s, limit) =>
      sqlAll(src.DB, sql`SELECT * FROM attempt_rollups WHERE account_id = ${s.accountId}
        AND subscription_id || ':' || printf('%015d', hour) > ${s.cursor ?? ""}
        ORDER BY subscription_id, hour LIMIT ${limit}`),
    cursorOf: (r) => `${r.subscription_id}:${String(r.hour).padStart(15, "0")}`,
  },
  {
    name: "deliveries",
    read: (src, s, limit) =>
      sqlAll(src.DB, sql`SELECT ${copyColumns("deliveries", "d")} FROM deliveries AS d INDEXED BY deliveries_due WHERE d.next_attempt_at IS NOT NULL
        AND ${deliveryOfAccountSql(sql.raw("d"), s.accountId)} AND d.id > ${s.cursor ?? ""} ORDER BY d.id LIMIT ${limit}`),
    cursorOf: (r) => String(r.id),
  },
];

/**
 * Copied once it has switched, in the background: the rest of its log, oldest first. Rows copied
 * already are left as they are (INSERT OR IGNORE); until this ends, its log reads on the target
 * lack the older part.
 */
const HISTORY: Copied[] = [
  {
    // Through events_account; the cursor is created_at (padded) and id.
    name: "events",
    read: (src, s, limit) => {
      const [at, id] = s.cursor ? [Number(s.cursor.slice(0, 15)), s.cursor.slice(16)] : [-1, ""];
      return sqlAll(src.DB, sql`SELECT ${copyColumns("events", "e")} FROM events AS e WHERE e.account_id = ${s.accountId}
        AND (e.created_at > ${at} OR (e.created_at = ${at} AND e.id > ${eventKeySql(sql`${id}`)})) ORDER BY e.created_at, e.id LIMIT ${limit}`);
    },
    cursorOf: (r) => `${String(r.created_at).padStart(15, "0")}:${r.id}`,
  },
  {
    // One subscription at a time (deleted ones included), through deliveries_subscription; the
    // cursor is the subscription's place in the list, created_at and id.
    name: "deliveries",
    read: (src, s, limit) => {
      const [place, at, id] = s.cursor ? s.cursor.split("|") : ["0", "-1", ""];
      const sub = s.subscriptionIds[Number(place)] ?? "";
      return sqlAll(src.DB, sql`SELECT ${copyColumns("deliveries", "d")} FROM deliveries AS d WHERE d.subscription_id = ${sub}
        AND (d.created_at > ${Number(at)} OR (d.created_at = ${Number(at)} AND d.id > ${id})) ORDER BY d.created_at, d.id LIMIT ${limit}`);
    },
    cursorOf: (r) => `${r.subscription_id}|${r.created_at}|${r.id}`,
  },
];

/** The history's deliveries cursor names the subscription by its place in `subscriptionIds`. */
const deliveriesCursor = (row: Record<string, unknown> | undefined, place: number) =>
  row ? `${place}|${row.created_at}|${row.id}` : `${place}|-1|`;

/** INSERT OR IGNORE of `rows` into `table` on the target, in as many statements as the parameter cap needs. */
async function insertRows(db: D1Database, table: string, rows: Record<string, unknown>[]): Promise<void> {
  if (rows.length === 0) return;
  const columns = Object.keys(rows[0]);
  const names = sql.raw(columns.map((c) => `"${c}"`).join(", "));
  const keys = KEY_COLUMNS[table] ?? [];
  const values = sql.join(
    columns.map((c) => {
      const value = sql.raw(`value ->> '$."${c}"'`);
      return keys.includes(c) ? eventKeySql(value) : value;
    }),
    sql`, `,
  );
  let part: Record<string, unknown>[] = [];
  let bytes = 0;
  const flush = async () => {
    if (!part.length) return;
    await sqlRun(db, sql`INSERT OR IGNORE INTO ${sql.identifier(table)} (${names}) SELECT ${values} FROM json_each(${JSON.stringify(part)})`);
    part = [];
    bytes = 0;
  };
  for (const row of rows) {
    const size = JSON.stringify(row).length;
    if (bytes + size > PARAM_BYTES) await flush();
    part.push(row);
    bytes += size;
  }
  await flush();
}

export class AccountMove extends DurableObject<Env> {
  /** Records the move and runs its first step at once. Idempotent: a move already recorded goes on. */
  async start(accountId: string, from: number, to: number): Promise<void> {
    if (await this.ctx.storage.get<MoveState>("move")) return;
    const state: MoveState = { accountId, from, to, phase: "freeze", table: 0, cursor: null, subscriptionIds: [], frozenAt: 0, historyFrom: 0, copied: 0 };
    await this.ctx.storage.put("move", state);
    await this.ctx.storage.setAlarm(Date.now());
  }

  async status(): Promise<MoveState | null> {
    return (await this.ctx.storage.get<MoveState>("move")) ?? null;
  }

  async alarm(): Promise<void> {
    const s = await this.ctx.storage.get<MoveState>("move");
    if (!s) return;
    let next: number;
    try {
      next = await this.step(s);
    } catch (err) {
      // Every step can run again: a failing one (a shard that does not answer) is retried until
      // it passes, never given up, so a move never stays half done.
      console.error(`account ${s.accountId}: move step ${s.phase} failed, retried in ${RETRY_MS} ms:`, err instanceof Error ? err.message : err);
      await this.ctx.storage.setAlarm(Date.now() + RETRY_MS);
      return;
    }
    await this.ctx.storage.put("move", s);
    if (s.phase === "done") {
      await this.ctx.storage.deleteAll();
      return;
    }
    await this.ctx.storage.setAlarm(Date.now() + next);
  }

  /** One step of the move; answers how long to wait before the next. */
  private async step(s: MoveState): Promise<number> {
    const src = shardEnv(this.env, s.from);
    const dst = shardEnv(this.env, s.to);
    switch (s.phase) {
      case "freeze": {
        const [row] = await database(control(this.env)).select().from(accounts).where(eq(accounts.id, s.accountId));
        if (!row) {
          s.phase = "done"; // deleted meanwhile
          return 0;
        }
        // On the control database the row says so already (startMove); a shard's copy is frozen by it.
        await sqlRun(src.DB, sql`UPDATE accounts SET moving_to = ${s.to} WHERE id = ${s.accountId}`);
        // The target's copy, not live there until the switch (its shard is still the source's).
        if (dst.DB !== control(this.env)) {
          const copy = { ...row, shard: s.from, movingTo: s.to };
          await database(dst.DB).insert(accounts).values(copy).onConflictDoUpdate({ target: accounts.id, set: copy });
        }
        forgetHome(s.accountId);
        s.frozenAt = Date.now();
        s.phase = "drain";
        return SETTLE_MS;
      }
      case "drain": {
        // Its emits are held: what it still has to send all gets a next_attempt_at, so the
        // drain, the copy and the switch find it through deliveries_due.
        await promoteFreshOfAccountStatement(src, s.accountId);
        const [{ n }] = await sqlAll<{ n: number }>(src.DB, sql`
          SELECT count(*) AS n FROM deliveries d WHERE next_attempt_at IS NOT NULL AND ${deliveryOfAccountSql(sql.raw("d"), s.accountId)}
            AND ${statusIsSql(sql.raw("d"), "in_flight", Date.now())}`);
        if (n > 0) return 500;
        const subs = await sqlAll<{ id: string }>(src.DB, sql`
          SELECT id FROM subscriptions WHERE account_id = ${s.accountId}
          UNION SELECT id FROM deleted_subscriptions WHERE account_id = ${s.accountId} ORDER BY id`);
        s.subscriptionIds = subs.map((r) => r.id);
        s.phase = "copy";
        return 0;
      }
      case "copy":
      case "history": {
        const tables = s.phase === "copy" ? LIVE : HISTORY;
        for (let chunk = 0; chunk < CHUNKS_PER_STEP; chunk++) {
          const table = tables[s.table];
          if (!table) {
            s.phase = s.phase === "copy" ? "switch" : "erase";
            s.table = 0;
            s.cursor = null;
            return 0;
          }
          const rows = await table.read(src, s, CHUNK_ROWS);
          if (table.name === "deliveries" && rows.length && s.phase === "copy") {
            // Their events first (the rows they point to), then them.
            const events = await sqlAll<Record<string, unknown>>(src.DB, sql`
              SELECT ${copyColumns("events", "e")} FROM json_each(${JSON.stringify([...new Set(rows.map((r) => r.event_id))])}) AS j
                JOIN events e ON e.id = ${eventKeySql(sql`j.value`)}`);
            await insertRows(dst.DB, "events", events);
          }
          await insertRows(dst.DB, table.name, rows);
          if (table.name === "deliveries" && rows.length) {
            const attempts = await sqlAll<Record<string, unknown>>(src.DB, sql`
              SELECT a.* FROM json_each(${JSON.stringify(rows.map((r) => r.id))}) AS j JOIN attempts a ON a.delivery_id = j.value`);
            await insertRows(dst.DB, "attempts", attempts);
            s.copied += rows.length;
          }
          if (table.name === "deliveries" && s.phase === "history") {
            const place = s.cursor ? Number(s.cursor.split("|")[0]) : 0;
            if (rows.length === CHUNK_ROWS) s.cursor = deliveriesCursor(rows[rows.length - 1], place);
            else if (place + 1 < s.subscriptionIds.length) s.cursor = deliveriesCursor(undefined, place + 1);
            else {
              s.table++;
              s.cursor = null;
            }
          } else if (rows.length < CHUNK_ROWS) {
            s.table++;
            s.cursor = null;
          } else {
            s.cursor = table.cursorOf(rows[rows.length - 1]);
          }
        }
        return 0;
      }
      case "switch": {
        // Live on the target: its copy first, then the control row (which keeps moving_to until the erase is done).
        if (dst.DB !== control(this.env)) {
          await sqlRun(dst.DB, sql`UPDATE accounts SET shard = ${s.to}, moving_to = NULL WHERE id = ${s.accountId}`);
        }
        await sqlRun(control(this.env), sql`UPDATE accounts SET shard = ${s.to} WHERE id = ${s.accountId}`);
        forgetHome(s.accountId);
        // What waits to be sent goes to the target's queue, each when due (the target's sweep is the safety net).
        const pending = await sqlAll<{ id: string; next_attempt_at: number }>(dst.DB, sql`
          SELECT id, next_attempt_at FROM deliveries d WHERE next_attempt_at IS NOT NULL AND status = 'pending'
            AND ${deliveryOfAccountSql(sql.raw("d"), s.accountId)}`);
        const now = Date.now();
        const byDelay = new Map<number, string[]>();
        for (const d of pending) {
          const delay = Math.min(MAX_QUEUE_DELAY_SECONDS, Math.max(0, Math.ceil((d.next_attempt_at - now) / 1000)));
          byDelay.set(delay, [...(byDelay.get(delay) ?? []), d.id]);
        }
        for (const [delay, ids] of byDelay) await enqueueDeliveries(dst, ids, delay || undefined);
        console.log(`account ${s.accountId} moved from shard ${s.from} to ${s.to}: ${s.copied} deliveries to send copied, frozen ${now - s.frozenAt} ms`);
        s.historyFrom = now;
        s.phase = "history";
        return 0;
      }
      case "erase": {
        const db = database(src.DB);
        await db.batch([
          db.delete(listenSessions).where(eq(listenSessions.accountId, s.accountId)),
          db.delete(subscriptions).where(eq(subscriptions.accountId, s.accountId)),
          // The source's copies of its keys; on the control database they are the keys themselves.
          ...(src.DB === control(this.env) ? [] : [db.delete(apiKeys).where(eq(apiKeys.accountId, s.accountId))]),
        ]);
        const { complete } = await eraseFromShard(src, s.accountId, { rows: 1_000, rounds: 50 }, src.DB === control(this.env));
        if (!complete) return 0;
        await sqlRun(control(this.env), sql`UPDATE accounts SET moving_to = NULL WHERE id = ${s.accountId}`);
        console.log(`account ${s.accountId}: history copied (${s.copied} deliveries in all) and source erased ${Date.now() - s.historyFrom} ms after the switch`);
        s.phase = "done";
        return 0;
      }
      default:
        return 0;
    }
  }
}
