/** A subscription's health at a glance: its figures per window, and attempts per hour over the last 24 h as an inline SVG. */
import type { HourStats, SubscriptionStats, WindowStats } from "../../services/stats";

const WINDOW_LABELS = { hour: "Last hour", day: "Last 24 hours", week: "Last 7 days" } as const;

const pct = (rate: number | null) => (rate === null ? "—" : `${(Math.floor(rate * 1000) / 10).toString()} %`);
const ms = (v: number | null) => (v === null ? "—" : `${v} ms`);
const hhmm = (iso: string) => iso.slice(11, 16);

/** A round number at or above `n`, for the chart's scale: 1, 2, 5, 10, 20, 50... */
export function niceCeiling(n: number): number {
  if (n <= 1) return 1;
  const magnitude = 10 ** Math.floor(Math.log10(n));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= n) return step * magnitude;
  return 10 * magnitude;
}

const W = 720;
const H = 180;
const PAD = { left: 44, right: 8, top: 10, bottom: 26 };

const failedOf = (h: HourStats) => h.attempts - h.succeeded;
const describe = (h: HourStats) =>
  `${hhmm(h.hour)} UTC: ${h.attempts} attempts, ${h.succeeded} succeeded, ${h.http_status} error status, ${h.timeout + h.network} no answer`;

/** Stacked bars per hour: succeeded, error status, no answer (timeout or network). */
export function HourlyChart({ hours }: { hours: HourStats[] }) {
  const top = niceCeiling(Math.max(0, ...hours.map((h) => h.attempts)));
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const slot = plotW / hours.length;
  const barW = Math.max(2, slot * 0.7);
  const y = (n: number) => PAD.top + plotH - (n / top) * plotH;
  const total = hours.reduce((a, h) => a + h.attempts, 0);
  const failed = hours.reduce((a, h) => a + failedOf(h), 0);
  return (
    <svg
      class="chart"
      id="stats-chart"
      viewBox={`0 0 ${W} ${H}`}
      role="img"
      aria-labelledby="stats-chart-title stats-chart-desc"
      xmlns="http://www.w3.org/2000/svg"
    >
      <title id="stats-chart-title">Attempts per hour over the last 24 hours, by outcome</title>
      <desc id="stats-chart-desc">{`${total} attempts in all, ${failed} failed; the busiest hour had ${Math.max(0, ...hours.map((h) => h.attempts))}.`}</desc>
      {[0, top / 2, top].map((v) => (
        <g>
          <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(v)} y2={y(v)} />
          <text class="axis" x={PAD.left - 6} y={y(v) + 4} text-anchor="end">
            {Number.isInteger(v) ? String(v) : v.toFixed(1)}
          </text>
        </g>
      ))}
      {hours.map((h, i) => {
        const x = PAD.left + i * slot + (slot - barW) / 2;
        const parts: Array<[string, number]> = [
          ["bar-ok", h.succeeded],
          ["bar-status", h.http_status],
          ["bar-silent", h.timeout + h.network],
        ];
        let base = 0;
        return (
          <g class="hour" data-hour={h.hour} data-attempts={String(h.attempts)}>
            <title>{describe(h)}</title>
            {parts.map(([cls, n]) => {
              if (n === 0) return null;
              const rect = <rect class={cls} x={x.toFixed(1)} width={barW.toFixed(1)} y={y(base + n).toFixed(1)} height={(y(base) - y(base + n)).toFixed(1)} />;
              base += n;
              return rect;
            })}
            {i % 6 === 0 || i === hours.length - 1 ? (
              <text class="axis" x={(x + barW / 2).toFixed(1)} y={H - 8} text-anchor="middle">
                {hhmm(h.hour)}
              </text>
            ) : null}
          </g>
        );
      })}
    </svg>
  );
}

function Row({ name, w }: { name: keyof typeof WINDOW_LABELS; w: WindowStats }) {
  return (
    <tr id={`stats-${name}`}>
      <th scope="row">{WINDOW_LABELS[name]}</th>
      <td data-label="Attempts" data-field="attempts">
        {w.attempts}
      </td>
      <td data-label="Success rate" data-field="success_rate">
        {pct(w.success_rate)}
      </td>
      <td data-label="Failed attempts" data-field="failed">
        {w.failed}
      </td>
      <td data-label="Failed deliveries" data-field="deliveries_failed">
        {w.deliveries_failed}
      </td>
      <td data-label="Median" data-field="p50_ms">
        {ms(w.p50_ms)}
      </td>
      <td data-label="95th percentile" data-field="p95_ms">
        {ms(w.p95_ms)}
      </td>
    </tr>
  );
}

export function StatsSection({ stats }: { stats: SubscriptionStats }) {
  return (
    <section class="stats" aria-labelledby="stats-h">
      <h2 id="stats-h">Health</h2>
      <table class="stack">
        <thead>
          <tr>
            <th scope="col">Window</th>
            <th scope="col">Attempts</th>
            <th scope="col">Success rate</th>
            <th scope="col">Failed attempts</th>
            <th scope="col">Failed deliveries</th>
            <th scope="col">Median</th>
            <th scope="col">95th percentile</th>
          </tr>
        </thead>
        <tbody>
          <Row name="hour" w={stats.hour} />
          <Row name="day" w={stats.day} />
          <Row name="week" w={stats.week} />
        </tbody>
      </table>
      <p class="hint">
        Whole UTC hours: "last hour" counts from {hhmm(stats.hour.from)} UTC. Durations are read from a histogram, so the
        median and 95th percentile are approximate (within a bucket up to 1.5 times as wide as its start).
      </p>
      <p class="hint" aria-hidden="true">
        Attempts per hour over the last 24 hours (UTC), by outcome:
      </p>
      <HourlyChart hours={stats.hourly} />
      <p class="legend">
        <span class="key ok" /> succeeded <span class="key status" /> error status <span class="key silent" /> no answer
        (timeout or network)
      </p>
    </section>
  );
}
