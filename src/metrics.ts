/**
 * Metrics mode (METRICS=1): the code counts what a delivery costs — D1 round trips,
 * statements and rows, queue operations, Durable Object requests, Worker invocations —
 * so the benchmark can price a million deliveries. Off, it wraps nothing and costs nothing.
 */
export interface Counters {
  invocations: { fetch: number; queue: number; scheduled: number; rpc: number };
  d1: { roundTrips: number; statements: number; rowsRead: number; rowsWritten: number };
  queue: { messagesSent: number; sendCalls: number; retries: number; acks: number };
  durableObject: { requests: number };
  deliveries: { attempts: number; succeeded: number };
}

const zero = (): Counters => ({
  invocations: { fetch: 0, queue: 0, scheduled: 0, rpc: 0 },
  d1: { roundTrips: 0, statements: 0, rowsRead: 0, rowsWritten: 0 },
  queue: { messagesSent: 0, sendCalls: 0, retries: 0, acks: 0 },
  durableObject: { requests: 0 },
  deliveries: { attempts: 0, succeeded: 0 },
});

let counters = zero();
let enabled = false;

export const metricsOn = (env: { METRICS?: string }) => env.METRICS === "1" || env.METRICS === "true";

/** Adds to a counter; a no-op unless metrics mode is on. */
export function count<G extends keyof Counters>(group: G, key: keyof Counters[G], n = 1): void {
  if (enabled) (counters[group] as Record<string, number>)[key as string] += n;
}

export function readCounters(reset = false): Counters {
  const snapshot = structuredClone(counters);
  if (reset) counters = zero();
  return snapshot;
}

type Meta = { meta?: { rows_read?: number; rows_written?: number } };
const rows = (results: unknown) => {
  for (const r of (Array.isArray(results) ? results : [results]) as Meta[]) {
    count("d1", "rowsRead", r?.meta?.rows_read ?? 0);
    count("d1", "rowsWritten", r?.meta?.rows_written ?? 0);
  }
};

function countedStatement(stmt: D1PreparedStatement): D1PreparedStatement {
  return new Proxy(stmt, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "bind") return (...args: unknown[]) => countedStatement(target.bind(...args));
      if (prop === "first" || prop === "all" || prop === "run" || prop === "raw") {
        return async (...args: unknown[]) => {
          count("d1", "roundTrips");
          count("d1", "statements");
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (prop === "all" || prop === "run") rows(result);
          return result;
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

function countedD1(db: D1Database): D1Database {
  return new Proxy(db, {
    get(target, prop) {
      if (prop === "prepare") {
        return (query: string) => countedStatement(target.prepare(query));
      }
      if (prop === "batch") {
        return async (statements: D1PreparedStatement[]) => {
          count("d1", "roundTrips");
          count("d1", "statements", statements.length);
          const results = await target.batch(statements);
          rows(results);
          return results;
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
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
              return (member as (...x: unknown[]) => unknown).apply(s, a);
            };
          },
        });
      };
    },
  });
}

const instrumented = new WeakMap<Env, Env>();

/** The bindings, counted when metrics mode is on (the same object otherwise). */
export function instrument(env: Env): Env {
  if (!metricsOn(env)) return env;
  enabled = true;
  let wrapped = instrumented.get(env);
  if (!wrapped) {
    wrapped = {
      ...env,
      DB: countedD1(env.DB),
      DELIVERY_QUEUE: countedQueue(env.DELIVERY_QUEUE),
      SUBSCRIPTION_HEALTH: countedNamespace(env.SUBSCRIPTION_HEALTH),
    };
    instrumented.set(env, wrapped);
  }
  return wrapped;
}
