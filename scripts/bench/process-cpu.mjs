// CPU time of this process's descendants (Linux /proc), to say which process a run's work fell on:
// locally the Worker, its D1 database, its queue broker and its Durable Objects share one workerd
// process, whose JavaScript runs on one thread, so that process's share of a core is a ceiling.
import { readdirSync, readFileSync } from "node:fs";

const TICKS_PER_SECOND = 100; // USER_HZ: 100 on every Linux this runs on

function stat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may hold spaces: the fields after it are space-separated.
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return null;
  }
}

const name = (pid) => {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    const bin = argv[0].split("/").pop();
    if (bin === "workerd") return "workerd";
    const script = argv.find((a) => a.endsWith(".js") || a.endsWith(".mjs")) ?? bin;
    return `${bin} ${script.split("/").slice(-2).join("/")} ${argv.includes("dev") ? "dev" : ""}`.trim();
  } catch {
    return "?";
  }
};

/** This process and every descendant: pid -> { name, ticks }. Null off Linux. */
export function descendantsCpu() {
  let pids;
  try {
    pids = readdirSync("/proc").filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  const stats = new Map(pids.map((p) => [Number(p), stat(p)]).filter(([, s]) => s));
  const children = new Map();
  for (const [pid, s] of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), pid]);
  // This process too: the bench's client and receiver.
  const out = new Map([[process.pid, { name: "this process (client, receiver)", ticks: stats.get(process.pid)?.ticks ?? 0 }]]);
  const walk = (pid) => {
    for (const c of children.get(pid) ?? []) {
      out.set(c, { name: name(c), ticks: stats.get(c).ticks });
      walk(c);
    }
  };
  walk(process.pid);
  return out;
}

/**
 * What each descendant spent between two snapshots (processes alive at both), busiest first:
 * CPU ms per delivery, and its share of one core over `seconds`.
 */
export function cpuBetween(before, after, deliveries, seconds) {
  if (!before || !after) return null;
  const rows = [];
  for (const [pid, a] of after) {
    const b = before.get(pid);
    if (!b) continue;
    const ms = ((a.ticks - b.ticks) * 1000) / TICKS_PER_SECOND;
    if (ms > 0) rows.push({ process: a.name, pid, ms_per_delivery: Math.round((ms / deliveries) * 1000) / 1000, core_share: Math.round((ms / 10 / seconds)) / 100 });
  }
  return rows.sort((x, y) => y.ms_per_delivery - x.ms_per_delivery);
}
