/**
 * Group commit for warm emit calls: calls that reach this isolate while its last group is being
 * written share the next D1 round trip, one transaction for all of them, and their pending
 * deliveries share queue messages (up to ten ids each, see ./enqueue). No call is held back to
 * gather a group: the first goes at once; those arriving meanwhile go together as soon as it is
 * written. D1 runs one query at a time per database, so k calls in one transaction cost one
 * commit, not k.
 *
 * A group is written by a few statements whatever its size (GroupKind: one for all its guards, one
 * per table), each binding the whole group's rows as one JSON parameter. Should any statement of
 * a group fail (a call's guard finds the catalog changed, say), nothing of the group was written
 * and each call is written again on its own, so it gets its own answer.
 *
 * The group's batch is prepared and sent from the request of one of its calls (the leader, which
 * waits for it anyway) and kept alive with waitUntil, so a leader whose client goes away cannot
 * strand the others. The others find their results as plain data, on their own timers.
 */
import { waitUntil } from "cloudflare:workers";
import type { BatchItem } from "drizzle-orm/batch";
import { database } from "../db/client";
import { enqueueDeliveries } from "./enqueue";

/** At most this many calls in one transaction, and this much bound data. */
const GROUP_MAX_CALLS = 25;
const GROUP_MAX_BYTES = 1_000_000;

/** The shortest sleep of a call waiting for its group to be written, or for its turn to lead the next. */
const POLL_MS = 1;
/** The longest a waiting call sleeps before it looks again. */
const MAX_SLEEP_MS = 50;
/** Longer than any D1 batch may take: a group still "being written" after this is taken as lost. */
const STUCK_MS = 60_000;

/**
 * What a group writes, for calls of one kind: the statements that write several calls' items at
 * once (the same few statements whatever the group's size: D1 counts and runs each statement,
 * so k calls cost one statement each, not k), and each call's own result out of them.
 */
export interface GroupKind<T, R> {
  /** The statements that write `items`, all or nothing; built in the request that sends them. */
  statements(env: Env, items: T[]): BatchItem<"sqlite">[];
  /** Each item's result, in the order of `items`, from the batch's results. */
  split(results: unknown[], items: T[]): R[];
  /** The delivery ids to enqueue once an item is written. */
  pendingOf(result: R): string[];
}

type Outcome<R> = { ok: true; result: R } | { ok: false; error: unknown };

interface Member<T = unknown, R = unknown> {
  kind: GroupKind<T, R>;
  item: T;
  bytes: number;
  outcome?: Outcome<R>;
}

interface Line {
  waiting: Member[];
  writing: boolean;
  /** When the group being written was sent. */
  since: number;
  /** How long a group takes to write, a moving average. */
  typicalMs: number;
}

const lines = new WeakMap<D1Database, Line>();

/** How many calls went in each of the isolate's last 1,000 groups (the tests read it). */
export const groupSizes: number[] = [];

/**
 * Writes one call's item with whatever other calls of its kind are waiting, enqueues its pending
 * deliveries, and answers its own result, or throws its own error.
 */
export async function writeTogether<T, R>(env: Env, kind: GroupKind<T, R>, item: T, bytes: number): Promise<R> {
  let line = lines.get(env.DB);
  if (!line) lines.set(env.DB, (line = { waiting: [], writing: false, since: 0, typicalMs: POLL_MS }));
  const me: Member<T, R> = { kind, item, bytes };
  line.waiting.push(me as Member);
  /** How many times this call has woken with nothing to do yet. */
  let early = 0;
  for (;;) {
    if (me.outcome) {
      if (me.outcome.ok) return me.outcome.result;
      throw me.outcome.error;
    }
    // A leader whose request was cut off before its group ended (which waitUntil should prevent)
    // must not stop the line: past STUCK_MS, the next call leads anyway.
    if (!line.writing || Date.now() - line.since > STUCK_MS) {
      line.writing = true;
      line.since = Date.now();
      // Cleared in the chain waitUntil keeps alive, not after this request's own await.
      const since = line.since;
      const written = writeGroup(env, takeGroup(line.waiting)).finally(() => {
        line.writing = false;
        line.typicalMs = 0.7 * line.typicalMs + 0.3 * (Date.now() - since);
      });
      // Enqueued after the answers, outside the line: D1 is the record, and a message that never
      // gets sent loses nothing (the sweep sends what is still pending, ./enqueue). So neither the
      // calls nor the next group wait on the queue.
      keepAlive(written.then((pending) => (pending.length ? enqueueDeliveries(env, pending) : undefined)));
      await written;
      // The next in line leads the next group, from its own request, when it next looks.
      continue;
    }
    // Each call waits on its own timer and reads plain data another request left for it: the
    // runtime ties promises, timers and prepared statements to the request that made them, so
    // nothing of one request is touched from another. (A promise of the waiting call's request,
    // resolved by the writing one, would spare the timers; local workerd cancels such a wait as
    // "Promise will never complete".) It first sleeps about as long as the group in flight should
    // still take; each time it wakes too early, the shortest it may sleep doubles (1, 2, 4 ms...),
    // where it used to wake every millisecond while a slow group ended (CPU time is billed: timer
    // callbacks, these wake-ups among them, were 4 % of the Worker's CPU in (a)).
    const left = line.typicalMs - (Date.now() - line.since);
    await new Promise((resolve) => setTimeout(resolve, Math.min(Math.max(left, POLL_MS * 2 ** early), MAX_SLEEP_MS)));
    early++;
  }
}

function keepAlive(p: Promise<unknown>): void {
  try {
    waitUntil(p);
  } catch {
    // Outside a request (a test calling in directly): nothing to keep alive.
  }
}

/** The longest run of one kind from the head of the line that fits a group; always at least one call. */
function takeGroup(waiting: Member[]): Member[] {
  let n = 0;
  let bytes = 0;
  while (
    n < waiting.length &&
    n < GROUP_MAX_CALLS &&
    (n === 0 || (waiting[n].kind === waiting[0].kind && bytes + waiting[n].bytes <= GROUP_MAX_BYTES))
  ) {
    bytes += waiting[n].bytes;
    n++;
  }
  return waiting.splice(0, n);
}

const batchOf = (env: Env, kind: GroupKind<unknown, unknown>, items: unknown[]) =>
  database(env.DB).batch(kind.statements(env, items) as [BatchItem<"sqlite">, ...BatchItem<"sqlite">[]]);

/** Never rejects: every member gets its outcome. Answers the group's pending delivery ids. */
async function writeGroup(env: Env, group: Member[]): Promise<string[]> {
  if (!group.length) return [];
  groupSizes.push(group.length);
  if (groupSizes.length > 1_000) groupSizes.splice(0, groupSizes.length - 1_000);
  const kind = group[0].kind;
  const items = group.map((m) => m.item);
  let results: unknown[] | null = null;
  try {
    results = await batchOf(env, kind, items);
  } catch (groupError) {
    if (group.length === 1) group[0].outcome = { ok: false, error: groupError };
    else {
      // Nothing of the group was written: each call on its own, for its own answer.
      for (const m of group) {
        try {
          m.outcome = { ok: true, result: kind.split(await batchOf(env, kind, [m.item]), [m.item])[0] };
        } catch (error) {
          m.outcome = { ok: false, error };
        }
      }
    }
  }
  // Written: only the group's own answers are read now, and nothing is written again.
  if (results) {
    try {
      const own = kind.split(results, items);
      group.forEach((m, k) => (m.outcome = { ok: true, result: own[k] }));
    } catch (error) {
      for (const m of group) m.outcome = { ok: false, error };
    }
  }
  return group.flatMap((m) => (m.outcome?.ok ? kind.pendingOf(m.outcome.result) : []));
}
