/**
 * Metrics mode (METRICS=1): the code counts what a delivery costs — D1 round trips,
 * statements and rows, queue operations, Durable Object requests, Worker invocations —
 * so the benchmark can price a million deliveries. Off, it wraps nothing and costs nothing.
 */
export type Handler = "fetch" | "queue" | "scheduled" | "rpc" | "durableObject";

export interface D1Counters {
  roundTrips: number;
  statements: number;
  rowsRead: number;
  rowsWritten: number;
}

export interface Counters {
  invocations: { fetch: number; queue: number; scheduled: number; rpc: number };
  d1: D1Counters & { sizeAfter: number };
  /** The same D1 use, split by the handler that made it (emit calls are `fetch` or `rpc`, batches `queue`). */
  d1ByHandler: Record<Handler, D1Counters>;
  queue: { messagesSent: number; sendCalls: number; retries: number; acks: number };
  durableObject: { requests: number };
  deliveries: { attempts: number; succeeded: number };
}

const d1Zero = (): D1Counters => ({ roundTrips: 0, statements: 0, rowsRead: 0, rowsWritten: 0 });

const zero = (): Counters => ({
  invocations: { fetch: 0, queue: 0, scheduled: 0, rpc: 0 },
  d1: { ...d1Zero(), sizeAfter: 0 },
  d1ByHandler: { fetch: d1Zero(), queue: d1Zero(), scheduled: d1Zero(), rpc: d1Zero(), durableObject: d1Zero() },
  queue: { messagesSent: 0, sendCalls: 0, retries: 0, acks: 0 },
  durableObject: { requests: 0 },
  deliveries: { attempts: 0, succeeded: 0 },
});

let counters = zero();
// The database's size outlives a reset: it is a level, not a count.
let sizeAfter = 0;
let enabled = false;

export const metricsOn = (env: { METRICS?: string }) => env.METRICS === "1" || env.METRICS === "true";

/** Adds to a counter; a no-op unless metrics mode is on. */
export function count<G extends Exclude<keyof Counters, "d1ByHandler">>(group: G, key: keyof Counters[G], n = 1): void {
  if (enabled) (counters[group] as Record<string, number>)[key as string] += n;
}

/**
 * Metrics mode only: the time the sweep runs at, when the benchmark has set one
 * (`GET /__metrics?sweep_at=<ms>`), so that it can purge its own rows as the cron would once
 * they are past retention. Undefined otherwise: the sweep takes the clock.
 */
let sweepAt: number | undefined;
export const sweepClock = () => (enabled ? sweepAt : undefined);

export function setSweepClock(ms: number): void {
  sweepAt = ms;
}

export function readCounters(reset = false): Counters {
  const snapshot = structuredClone(counters);
  snapshot.d1.sizeAfter = sizeAfter;
  if (reset) counters = zero();
  return snapshot;
}

type D1Meta = { rows_read?: number; rows_written?: number; size_after?: number };

function countD1(handler: Handler, database: string, statements: number, metas: D1Meta[]): void {
  for (const c of [counters.d1, counters.d1ByHandler[handler]]) {
    c.roundTrips++;
    c.statements += statements;
    for (const m of metas) {
      c.rowsRead += m.rows_read ?? 0;
      c.rowsWritten += m.rows_written ?? 0;
    }
  }
  // SQLite never shrinks its file without VACUUM: the largest size seen is the current one,
  // whatever order concurrent answers arrive in.
  // Each database its own (the shards), their sum the size of all.
  for (const m of metas) sizes.set(database, Math.max(sizes.get(database) ?? 0, m.size_after ?? 0));
  sizeAfter = [...sizes.values()].reduce((a, b) => a + b, 0);
}

const sizes = new Map<string, number>();

/**
 * D1 counted at its transport: the binding's fetcher carries every query to the database and
 * brings back D1's own meta (rows_read, rows_written, size_after) for each statement, whichever
 * method made it. Counting at the methods instead misses `first()` and `raw()`, which drop the
 * meta (drizzle reads through `raw()`). The binding is rebuilt around a counting fetcher, so its
 * behaviour is the runtime's own.
 */
function countedD1(db: D1Database, handler: Handler, name: string): D1Database {
  const fetcher = (db as unknown as { fetcher?: Fetcher }).fetcher;
  if (!fetcher) throw new Error("metrics mode: this D1 binding has no fetcher to count (runtime changed?)");
  const counting = {
    fetch: async (input: RequestInfo | URL, init?: RequestInit) => {
      const response = await fetcher.fetch(input, init);
      const answer = (await response
        .clone()
        .json()
        .catch(() => null)) as { meta?: D1Meta } | { meta?: D1Meta }[] | null;
      const list = Array.isArray(answer) ? answer : answer ? [answer] : [];
      countD1(handler, name, list.length, list.map((r) => r?.meta ?? {}));
      return response;
    },
  };
  const Binding = db.constructor as new (fetcher: unknown) => D1Database;
  return new Binding(counting);
}

function countedQueue<T>(queue: Queue<T>): Queue<T> {
  return {
    send: (body, options) => {
      count("queue", "sendCalls");
      count("queue", "messagesSent");
      return queue.send(body, options);
    },
    sendBatch: (messages, options) => {
      const list = [...messages];
      count("queue", "sendCalls");
      count("queue", "messagesSent", list.length);
      return queue.sendBatch(list, options);
    },
  } as Queue<T>;
}

function countedNamespace<T extends Rpc.DurableObjectBranded | undefined>(ns: DurableObjectNamespace<T>): DurableObjectNamespace<T> {
  return new Proxy(ns, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop !== "get") return typeof value === "function" ? value.bind(target) : value;
      return (...args: Parameters<DurableObjectNamespace<T>["get"]>) => {
        const stub = target.get(...args);
        return new Proxy(stub, {
          get(s, key) {
            const member = Reflect.get(s, key, s);
            if (typeof member !== "function" || key === "then") return member;
            return (...a: unknown[]) => {
              count("durableObject", "requests");
              // Reflect.apply: on an RPC stub, `member.apply` would itself be a remote method named "apply".
              return Reflect.apply(member as (...x: unknown[]) => unknown, s, a);
            };
          },
        });
      };
    },
  });
}

const instrumented = new WeakMap<Env, Partial<Record<Handler, Env>>>();

/** The bindings, counted under `handler` when metrics mode is on (the same object otherwise). */
export function instrument(env: Env, handler: Handler = "fetch"): Env {
  if (!metricsOn(env)) return env;
  enabled = true;
  let byHandler = instrumented.get(env);
  if (!byHandler) instrumented.set(env, (byHandler = {}));
  let wrapped = byHandler[handler];
  if (!wrapped) {
    wrapped = {
      ...env,
      DB: countedD1(env.DB, handler, "DB"),
      DELIVERY_QUEUE: countedQueue(env.DELIVERY_QUEUE),
      SUBSCRIPTION_HEALTH: countedNamespace(env.SUBSCRIPTION_HEALTH),
    };
    // Every shard's database and queue (src/db/shards.ts), so the cost figures count them all.
    const shardBindings = wrapped as unknown as Record<string, unknown>;
    for (const [name, value] of Object.entries(env)) {
      if (/^DB_\d+$/.test(name)) shardBindings[name] = countedD1(value as D1Database, handler, name);
      else if (/^DELIVERY_QUEUE_\d+$/.test(name)) shardBindings[name] = countedQueue(value as Queue<unknown>);
    }
    byHandler[handler] = wrapped;
  }
  return wrapped;
}
