/**
 * Where a delivery's attempts are kept: the latest in its own row (`last_attempt`), the earlier
 * ones in `attempts`. Most deliveries succeed at once and never write an attempts row. The
 * lifecycle writes it; the log's readers use these.
 *
 * `last_attempt` is a JSON array in the attempts table's column order, less what the delivery's
 * row already says: no id (`attemptIdOf` derives it from the delivery's id and the attempt's
 * number), no number (it is the delivery's attempts_count), and the start as ms after the
 * delivery's created_at: `[start, duration_ms, outcome, status_code, error, response_headers,
 * response_body]`. Rows written before 2026-12-02 have the id, number and start first (9 fields),
 * or the number and start (8).
 */
import type { AttemptRow, DeliveryRow } from "../db/schema";
import { attemptIdOf } from "../core/ids";
import type { AttemptRecord } from "./send";

/**
 * An attempt for its delivery's `last_attempt`, its start still absolute: the settle makes it
 * relative to the delivery's created_at as it writes it (lifecycle's settleStatements).
 */
export const encodeAttempt = (a: AttemptRecord) =>
  JSON.stringify([a.startedAt, a.durationMs, a.outcome, a.statusCode, a.error, a.responseHeaders, a.responseBody]);

type Stored = Pick<DeliveryRow, "id" | "createdAt" | "attemptsCount">;

/** A delivery's `last_attempt` as an attempts row, whichever of its three layouts it has. */
export function decodeAttempt(delivery: Stored, text: string): AttemptRow {
  const fields: unknown[] = JSON.parse(text);
  const layout = fields.length;
  const storedId = layout === 9 ? (fields.shift() as string) : undefined;
  const number = layout >= 8 ? (fields.shift() as number) : delivery.attemptsCount;
  const [start, durationMs, outcome, statusCode, error, responseHeaders, responseBody] = fields as [
    number, AttemptRow["durationMs"], AttemptRow["outcome"], AttemptRow["statusCode"], AttemptRow["error"],
    AttemptRow["responseHeaders"], AttemptRow["responseBody"],
  ];
  const startedAt = layout === 7 ? delivery.createdAt + start : start;
  const id = storedId ?? attemptIdOf(delivery.id, number);
  return { id, deliveryId: delivery.id, number, startedAt, durationMs, outcome, statusCode, error, responseHeaders, responseBody };
}

/** A delivery's attempts in order: the earlier ones from `attempts`, the latest from its own row. */
export const attemptsOf = (delivery: Stored & Pick<DeliveryRow, "lastAttempt">, earlier: AttemptRow[]): AttemptRow[] =>
  delivery.lastAttempt === null ? earlier : [...earlier, decodeAttempt(delivery, delivery.lastAttempt)];
