/**
 * Where a delivery's attempts are kept: the latest in its own row (`last_attempt`, a JSON array
 * in the attempts table's column order, without the id: `attemptIdOf` derives it from the
 * delivery's id and the attempt's number), the earlier ones in `attempts`. Most deliveries succeed
 * at once and never write an attempts row. The lifecycle writes it; the log's readers use these.
 */
import type { AttemptRow, DeliveryRow } from "../db/schema";
import { attemptIdOf } from "../core/ids";
import type { AttemptRecord } from "./send";

/** An attempt as its delivery's `last_attempt` holds it: a JSON array, columns in the attempts table's order, no id. */
export const encodeAttempt = (a: AttemptRecord) =>
  JSON.stringify([a.number, a.startedAt, a.durationMs, a.outcome, a.statusCode, a.error, a.responseHeaders, a.responseBody]);

/**
 * A delivery's `last_attempt` as an attempts row. Rows written before 2026-12-02 kept the
 * attempt's id first (a string); theirs is read from there.
 */
export function decodeAttempt(deliveryId: string, text: string): AttemptRow {
  const fields: unknown[] = JSON.parse(text);
  const stored = typeof fields[0] === "string" ? (fields.shift() as string) : undefined;
  const [number, startedAt, durationMs, outcome, statusCode, error, responseHeaders, responseBody] = fields as [
    AttemptRow["number"], AttemptRow["startedAt"], AttemptRow["durationMs"], AttemptRow["outcome"],
    AttemptRow["statusCode"], AttemptRow["error"], AttemptRow["responseHeaders"], AttemptRow["responseBody"],
  ];
  const id = stored ?? attemptIdOf(deliveryId, number);
  return { id, deliveryId, number, startedAt, durationMs, outcome, statusCode, error, responseHeaders, responseBody };
}

/** A delivery's attempts in order: the earlier ones from `attempts`, the latest from its own row. */
export const attemptsOf = (delivery: Pick<DeliveryRow, "id" | "lastAttempt">, earlier: AttemptRow[]): AttemptRow[] =>
  delivery.lastAttempt === null ? earlier : [...earlier, decodeAttempt(delivery.id, delivery.lastAttempt)];
