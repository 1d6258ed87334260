/**
 * The one way the dashboard writes and reads a time: ISO 8601 in UTC, to the second
 * (`2026-11-30 08:47:56 UTC`). A browser's date input shows the user's locale instead
 * (`11/30/2026, 08:47:56 AM`), which reads differently from one country to the next.
 */
const pad = (n: number) => String(n).padStart(2, "0");

export function formatUtc(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

const UTC_TEXT = /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?\s*(?:Z|UTC)?$/i;

/** What formatUtc writes, or the same with `T`, without seconds or ending in `Z`; null for anything else. */
export function parseUtc(text: string): number | null {
  const m = UTC_TEXT.exec(text.trim());
  if (!m) return null;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map((v) => Number(v ?? 0));
  const ms = Number((m[7] ?? "").padEnd(3, "0"));
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const d = new Date(t);
  // Date.UTC rolls 30 February over into March: a time that does not exist is refused instead.
  const exact =
    d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day && d.getUTCHours() === hour &&
    d.getUTCMinutes() === minute && d.getUTCSeconds() === second;
  return exact ? t : null;
}
