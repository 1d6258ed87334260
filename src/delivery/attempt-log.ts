/**
 * Where a delivery's attempts are kept: the latest in its own row (`last_attempt`, a JSON array
 * in the attempts table's column order), the earlier ones in `attempts`. Most deliveries succeed
 * at once and never write an attempts row. The lifecycle writes it; the log's readers use these.
 */
import type { AttemptRow, DeliveryRow } from "../db/schema";
import type { AttemptRecord } from "./send";

/** An attempt as its delivery's `last_attempt` holds it: a JSON array, columns in the attempts table's order. */
export const encodeAttempt = (a: AttemptRecord) =>
  JSON.stringify([a.id, a.number, a.startedAt, a.durationMs, a.outcome, a.statusCode, a.error, a.responseHeaders, a.responseBody]);

/** A delivery's `last_attempt` as an attempts row. */
export function decodeAttempt(deliveryId: string, text: string): AttemptRow {
  const [id, number, startedAt, durationMs, outcome, statusCode, error, responseHeaders, responseBody] = JSON.parse(text);
  return { id, deliveryId, number, startedAt, durationMs, outcome, statusCode, error, responseHeaders, responseBody };
}

/** A delivery's attempts in order: the earlier ones from `attempts`, the latest from its own row. */
export const attemptsOf = (delivery: Pick<DeliveryRow, "id" | "lastAttempt">, earlier: AttemptRow[]): AttemptRow[] =>
  delivery.lastAttempt === null ? earlier : [...earlier, decodeAttempt(delivery.id, delivery.lastAttempt)];
