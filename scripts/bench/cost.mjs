// The cost model: what Cloudflare bills for a delivery over its whole life, from what Hookline's
// metrics mode counted (D1's own rows and sizes, queue operations, Durable Object requests,
// invocations), the purge of its rows included.
import { round } from "./util.mjs";

/**
 * Cloudflare's published prices (USD, Workers Paid plan, beyond the included amounts), in one
 * place, each with the day it was read. Sources: developers.cloudflare.com/workers/platform/pricing/,
 * /d1/platform/pricing/, /queues/platform/pricing/, /durable-objects/platform/pricing/.
 */
export const PRICES = {
  workersRequestPerMillion: { usd: 0.3, asOf: "2026-11-23" },
  d1RowsReadPerMillion: { usd: 0.001, asOf: "2026-11-23" },
  d1RowsWrittenPerMillion: { usd: 1.0, asOf: "2026-11-23" },
  d1StoragePerGbMonth: { usd: 0.75, asOf: "2026-12-01" },
  queueOperationPerMillion: { usd: 0.4, asOf: "2026-11-23" },
  durableObjectRequestPerMillion: { usd: 0.15, asOf: "2026-11-23" },
};

/** A delivery's rows are kept LOG_RETENTION_DAYS (30), then purged: one month of storage each. */
export const STORAGE_MONTHS = 30 / 30.44;

const sum = (runs, pick) => runs.reduce((t, r) => t + (pick(r) ?? 0), 0);

/**
 * One scenario's cost per successful delivery, over all its Hookline runs and its purge.
 * `bytesPerDelivery` is the D1 growth per delivery (size_after), billed for STORAGE_MONTHS.
 */
export function scenarioCost(runs, purge, bytesPerDelivery) {
  const counted = runs.filter((r) => r.counted);
  const delivered = sum(counted, (r) => r.deliveries_received);
  if (!delivered) return null;
  const c = (pick) => sum(counted, (r) => pick(r.counted));
  // The purge deletes every run's rows: a run whose counters could not be read has its share left out.
  const share = delivered / Math.max(sum(runs, (r) => r.deliveries_received), delivered);
  purge = purge && { ...purge, rowsWritten: purge.rowsWritten * share, rowsRead: purge.rowsRead * share, invocations: (purge.invocations ?? 0) * share };
  const rowsWritten = c((x) => x.d1.rowsWritten) + (purge?.rowsWritten ?? 0);
  const rowsRead = c((x) => x.d1.rowsRead) + (purge?.rowsRead ?? 0);
  const queueOps = 3 * c((x) => x.queue.messagesSent) + c((x) => x.queue.retries); // write, read, delete; one more per retry
  // Less the bench's own GET /__metrics that closes each run (counted before it reads the counters).
  const invocations = c((x) => x.invocations.fetch - 1 + x.invocations.queue + x.invocations.rpc) + (purge?.invocations ?? 0);
  const doRequests = c((x) => x.durableObject.requests);
  const emitCalls = sum(counted, (r) => r.emit_calls);
  const batches = c((x) => x.invocations.queue);
  const per = (n) => n / delivered;
  const usd = {
    d1_rows_written: per(rowsWritten) * PRICES.d1RowsWrittenPerMillion.usd,
    d1_rows_read: per(rowsRead) * PRICES.d1RowsReadPerMillion.usd,
    d1_storage: bytesPerDelivery === null ? 0 : ((bytesPerDelivery * 1e6) / 1e9) * STORAGE_MONTHS * PRICES.d1StoragePerGbMonth.usd,
    queue_operations: per(queueOps) * PRICES.queueOperationPerMillion.usd,
    workers_requests: per(invocations) * PRICES.workersRequestPerMillion.usd,
    durable_object_requests: per(doRequests) * PRICES.durableObjectRequestPerMillion.usd,
  };
  const total = Object.values(usd).reduce((a, b) => a + b, 0);
  return {
    deliveries: delivered,
    per_delivery: {
      d1_rows_written: round(per(rowsWritten), 3),
      d1_rows_written_by_purge: round(per(purge?.rowsWritten ?? 0), 3),
      d1_rows_read: round(per(rowsRead), 3),
      d1_bytes_stored: bytesPerDelivery === null ? null : round(bytesPerDelivery, 0),
      queue_operations: round(per(queueOps), 3),
      durable_object_requests: round(per(doRequests), 3),
      worker_invocations: round(per(invocations), 3),
    },
    d1_round_trips: {
      per_emit_call: round(c((x) => x.d1ByHandler.fetch.roundTrips) / Math.max(emitCalls, 1), 2),
      per_consumer_batch: round(c((x) => x.d1ByHandler.queue.roundTrips) / Math.max(batches, 1), 2),
      per_delivery: round(per(c((x) => x.d1.roundTrips)), 3),
    },
    consumer_batches: batches,
    usd_per_million_deliveries: { ...Object.fromEntries(Object.entries(usd).map(([k, v]) => [k, round(v, 4)])), total: round(total, 4) },
  };
}
