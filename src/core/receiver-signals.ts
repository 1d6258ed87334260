/**
 * What a receiver's answer asks of the sender, beyond success or failure: pure, so the
 * consumer, the attempt log's wording and the tests agree on it.
 * - 429 or 503 with `Retry-After` (delta-seconds or an HTTP date): wait at least that long
 *   before the next attempt, at most MAX_RETRY_AFTER_SECONDS; it still counts as one failed attempt.
 * - 410 Gone: the endpoint is gone for good (the REST Hooks convention).
 */
import { type AttemptVerdict, verdict } from "./retry";

/** The longest wait a receiver can ask for; a longer Retry-After waits this long. */
export const MAX_RETRY_AFTER_SECONDS = 60 * 60;

export interface RetryAfter {
  /** Whole seconds to wait, capped at MAX_RETRY_AFTER_SECONDS. */
  seconds: number;
  /** Whole seconds the receiver asked for. */
  asked: number;
  /** The header's value as the receiver sent it (its first 64 characters). */
  raw: string;
}

const DELTA_SECONDS = /^\d+$/;

/**
 * The wait a 429 or 503 asks for, or null when the status is another or the header is absent
 * or unreadable. A date in the past asks for no wait.
 */
export function retryAfter(status: number, header: string | null, now: number): RetryAfter | null {
  if ((status !== 429 && status !== 503) || header === null) return null;
  const raw = header.trim();
  let seconds: number;
  if (DELTA_SECONDS.test(raw)) seconds = Number(raw);
  else {
    // HTTP-date (RFC 9110 5.6.7): IMF-fixdate, or the obsolete RFC 850 and asctime forms, all GMT.
    const at = parseHttpDate(raw);
    if (at === null) return null;
    seconds = Math.max(0, Math.ceil((at - now) / 1000));
  }
  if (!Number.isFinite(seconds)) return null;
  return { seconds: Math.min(seconds, MAX_RETRY_AFTER_SECONDS), asked: seconds, raw: raw.slice(0, 64) };
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const IMF_FIXDATE = /^[a-z]{3}, (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const RFC_850 = /^[a-z]+, (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i;
const ASCTIME = /^[a-z]{3} ([a-z]{3}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i;

/** An HTTP-date in ms since the epoch, or null. */
export function parseHttpDate(text: string): number | null {
  const parts = dateParts(text);
  if (!parts) return null;
  const [day, month, year, h, m, s] = parts;
  const monthIndex = MONTHS.indexOf(month.toLowerCase());
  if (monthIndex < 0) return null;
  const t = Date.UTC(year, monthIndex, day, h, m, s);
  const d = new Date(t);
  return d.getUTCDate() === day && d.getUTCMonth() === monthIndex && h < 24 && m < 60 && s < 61 ? t : null;
}

/** [day, month name, year, hours, minutes, seconds] of any of the three forms. */
function dateParts(text: string): [number, string, number, number, number, number] | null {
  let match = IMF_FIXDATE.exec(text);
  if (match) return [Number(match[1]), match[2], Number(match[3]), Number(match[4]), Number(match[5]), Number(match[6])];
  match = RFC_850.exec(text);
  if (match) {
    // A two-digit year is the one that is not more than 50 years in the future (RFC 9110).
    const thisYear = new Date().getUTCFullYear();
    let year = Math.floor(thisYear / 100) * 100 + Number(match[3]);
    if (year > thisYear + 50) year -= 100;
    return [Number(match[1]), match[2], year, Number(match[4]), Number(match[5]), Number(match[6])];
  }
  match = ASCTIME.exec(text);
  if (match) return [Number(match[2]), match[1], Number(match[6]), Number(match[3]), Number(match[4]), Number(match[5])];
  return null;
}

/** The receiver answered 410 Gone: its subscription is switched off at once. */
export const isGone = (a: { outcome: string; statusCode: number | null }) => a.outcome === "http_status" && a.statusCode === 410;

/** What follows an attempt, as the receiver asked: 410 ends the delivery, Retry-After lengthens the wait. */
export function verdictFor(
  a: { outcome: string; statusCode: number | null; retryAfterSeconds?: number },
  attemptInSeries: number,
  schedule: readonly number[],
  now: number,
): AttemptVerdict {
  if (isGone(a)) return { kind: "failed" };
  return verdict(a.outcome === "success", attemptInSeries, schedule, now, a.retryAfterSeconds);
}
