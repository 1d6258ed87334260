// From the runs to the report: each side's median per scenario, the ratios against
// their targets, the cost model, and the markdown table.
import { PRICES, scenarioCost } from "./cost.mjs";
import { median, round } from "./util.mjs";

const LABELS = {
  a: "a: 1 subscription, one event per call",
  b: "b: fan-out, batches of events",
  c: "c: steady rate",
  forward: "client-driven forward (no queue)",
  d1: "d: 20 accounts, one event per call, 1 shard",
  d: "d: 20 accounts, one event per call, 2 shards",
};

function medians(runs) {
  const pick = (f) => round(median(runs.map(f)));
  return {
    runs: runs.length,
    deliveries_expected: runs.reduce((t, r) => t + r.deliveries_expected, 0),
    deliveries_received: runs.reduce((t, r) => t + r.deliveries_received, 0),
    errors: runs.reduce((t, r) => t + r.errors.count, 0),
    events_accepted_per_s: pick((r) => r.events_accepted_per_s),
    deliveries_per_s: pick((r) => r.deliveries_per_s),
    latency_ms: { p50: pick((r) => r.latency_ms.p50), p95: pick((r) => r.latency_ms.p95), p99: pick((r) => r.latency_ms.p99) },
  };
}

const storageAside = (c) => c.usd_per_million_deliveries.total - c.usd_per_million_deliveries.d1_storage;

const target = (name, value, goal, met) => ({ name, value: round(value, 2), target: goal, met: value === null ? null : met });

export function buildReport({ runs, purges, sizes, machine, started, quick, receiverInvalid, receiverCrossed, dAccountsPerShard, aborted }) {
  const of = (side, scenario) => runs.filter((r) => r.side === side && r.scenario === scenario);
  const summary = {};
  for (const scenario of ["a", "b", "c", "forward", "d1", "d"]) {
    const side = (name) => (of(name, scenario).length ? medians(of(name, scenario)) : null);
    const floor = side("floor");
    summary[scenario] = { hookline: side("hookline"), baseline: side("baseline"), ...(floor ? { floor } : {}) };
  }
  // D1 growth per delivery, run by run; (a) runs first on a fresh database, before any purge.
  const bytes = (scenario) => median(of("hookline", scenario).map((r) => (r.d1_bytes_grown === null || !r.deliveries_received ? null : r.d1_bytes_grown / r.deliveries_received)));
  const cost = {};
  for (const scenario of ["a", "b", "c", "d1", "d"]) cost[scenario] = scenarioCost(of("hookline", scenario), purges[scenario], bytes(scenario));
  const dRuns = of("hookline", "d");
  const shards = dRuns.length
    ? {
        shards: sizes.dShards,
        accounts_per_shard: dAccountsPerShard ?? null,
        lost: dRuns.reduce((t, r) => t + r.deliveries_expected - r.deliveries_received, 0),
        crossed: receiverCrossed,
        // Storage aside: (d) on one shard runs on pages the earlier purges freed, so it grows nothing.
        usd_per_million_vs_one_shard: cost.d && cost.d1 ? round(storageAside(cost.d) / storageAside(cost.d1), 3) : null,
        queue_operations_per_delivery: cost.d && cost.d1 ? { one_shard: cost.d1.per_delivery.queue_operations, two_shards: cost.d.per_delivery.queue_operations } : null,
        rows_written_per_delivery_vs_one_shard: cost.d && cost.d1 ? round(cost.d.per_delivery.d1_rows_written / cost.d1.per_delivery.d1_rows_written, 3) : null,
        deliveries_per_s_vs_one_shard:
          summary.d.hookline && summary.d1.hookline ? round(summary.d.hookline.deliveries_per_s / summary.d1.hookline.deliveries_per_s, 3) : null,
      }
    : null;

  const ratio = (scenario, f, side = "hookline") => {
    const h = summary[scenario][side], b = summary[scenario].baseline;
    return h && b && f(b) ? f(h) / f(b) : null;
  };
  const dps = (s) => s.deliveries_per_s;
  const p99 = (s) => s.latency_ms.p99;
  const a = ratio("a", dps), b = ratio("b", dps), c = ratio("c", p99);
  const storage = cost.a?.per_delivery.d1_bytes_stored ?? null;
  const targets = [
    target("(a) deliveries/s vs the per-request queue baseline", a, ">= 0.8", a >= 0.8),
    target("(b) deliveries/s vs the queue-only consumer", b, ">= 0.9", b >= 0.9),
    target("(c) p99 vs the queue baseline's p99 at the same rate", c, "<= 3", c <= 3),
    target("(a) D1 bytes stored per delivery (size_after)", storage, "<= 1000", storage <= 1000),
  ];
  // Not targets: what the floor (bench/floor, the least D1 work a delivery log needs) reaches against
  // the same baselines, the most any design that records its deliveries in D1 can reach here.
  const reference = [
    { name: "(a) the floor's deliveries/s vs the per-request queue baseline", value: round(ratio("a", dps, "floor"), 2) },
    { name: "(b) the floor's deliveries/s vs the queue-only consumer", value: round(ratio("b", dps, "floor"), 2) },
  ];
  const failedRuns = runs.filter((r) => r.errors.count > 0 || r.deliveries_received < r.deliveries_expected).length;
  const runsPerSide = Math.min(...["a", "b", "c"].map((s) => Math.min(of("hookline", s).length, of("baseline", s).length)));
  return {
    date: new Date(started).toISOString(),
    duration_s: round((Date.now() - started) / 1000, 0),
    quick,
    aborted: aborted ?? null,
    machine,
    method: {
      repetitions: sizes.reps,
      order: "per repetition: Hookline, then the baseline, then (for (a) and (b)) the floor, for (a), then (b), then (c); the purge after each scenario's repetitions",
      figure: "each side's median over its runs; a ratio is between the two medians",
      verdict:
        failedRuns > 0
          ? `not a verdict: ${failedRuns} run(s) had errors or missing deliveries`
          : runsPerSide >= 3
            ? "valid: at least three interleaved runs per side"
            : "not a verdict: fewer than three runs per side",
      call_deadline_ms: sizes.callDeadlineMs,
      wait: "until every delivery is in, 60 s plus 25 ms per delivery at most, and never 20 s without a new receipt",
      purge: "after each scenario's runs: the sweep at an hour boundary 31 days ahead, fired until it deletes nothing",
    },
    sizes,
    summary,
    targets,
    reference,
    cost,
    shards,
    purges,
    prices: PRICES,
    invalid_signatures: receiverInvalid,
    errors: runs.reduce((t, r) => t + r.errors.count, 0) + Object.values(purges).reduce((t, p) => t + p.errors.count, 0),
    runs,
  };
}

export function markdown(report) {
  const m = report.machine;
  const row = (cells) => `| ${cells.map((c) => c ?? "—").join(" | ")} |`;
  const lines = [
    `Measured ${report.date.slice(0, 16).replace("T", " ")} UTC on ${m.cpus}× ${m.cpu_model}, ${m.memory_gb} GB, Node ${m.node}, wrangler ${m.wrangler} (local workerd), ` +
      `${report.method.repetitions} run(s) per side and scenario, medians; ${report.duration_s} s${report.quick ? ", --quick" : ""}. ${report.method.verdict}.` +
      (report.aborted ? ` **Aborted: ${report.aborted}** (partial results).` : ""),
    "",
    row(["scenario", "side", "runs", "delivered", "errors", "events accepted/s", "deliveries/s", "p50 ms", "p95 ms", "p99 ms"]),
    row(["---", "---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]),
  ];
  for (const [scenario, sides] of Object.entries(report.summary)) {
    for (const [side, s] of Object.entries(sides)) {
      if (!s) continue;
      lines.push(row([LABELS[scenario], side, s.runs, `${s.deliveries_received}/${s.deliveries_expected}`, s.errors, s.events_accepted_per_s, s.deliveries_per_s, s.latency_ms.p50, s.latency_ms.p95, s.latency_ms.p99]));
    }
  }
  lines.push("", row(["target", "value", "target", "met"]), row(["---", "---:", "---", "---"]));
  for (const t of report.targets) lines.push(row([t.name, t.value, t.target, t.met === null ? "—" : t.met ? "met" : "missed"]));
  for (const r of report.reference ?? []) lines.push(row([r.name, r.value, "reference (bench/floor)", "—"]));
  lines.push("", row(["cost per delivery", "rows written (purge)", "rows read", "bytes stored", "D1 round trips per emit call", "per consumer batch", "queue ops", "DO requests", "$ per million deliveries"]));
  lines.push(row(["---", "---:", "---:", "---:", "---:", "---:", "---:", "---:", "---:"]));
  for (const [scenario, c] of Object.entries(report.cost)) {
    if (!c) continue;
    const p = c.per_delivery;
    lines.push(row([LABELS[scenario], `${p.d1_rows_written} (${p.d1_rows_written_by_purge})`, p.d1_rows_read, p.d1_bytes_stored, c.d1_round_trips.per_emit_call, c.d1_round_trips.per_consumer_batch, p.queue_operations, p.durable_object_requests, c.usd_per_million_deliveries.total]));
  }
  if (report.shards) {
    const s = report.shards;
    lines.push(
      "",
      `(d) on ${s.shards} shards (accounts per shard: ${s.accounts_per_shard?.join(", ") ?? "—"}): ${s.lost} deliveries lost, ${s.crossed ?? "—"} at another account's endpoint; ` +
        `against the same accounts on 1 shard: rows written per delivery ${s.rows_written_per_delivery_vs_one_shard ?? "—"}x, $ per million (storage aside) ${s.usd_per_million_vs_one_shard ?? "—"}x ` +
        `(queue operations per delivery ${s.queue_operations_per_delivery?.two_shards ?? "—"} against ${s.queue_operations_per_delivery?.one_shard ?? "—"}), deliveries/s ${s.deliveries_per_s_vs_one_shard ?? "—"}x.`,
    );
  }
  const dates = [...new Set(Object.values(report.prices).map((p) => p.asOf))].join(", ");
  lines.push("", `Prices: Cloudflare's published prices as read on ${dates} (\`scripts/bench/cost.mjs\`); CPU time not included. Bytes stored for (b) and (c) reuse pages freed by the previous scenario's purge: lower bounds.`);
  return lines.join("\n");
}
