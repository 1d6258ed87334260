#!/usr/bin/env node
// The fuzzing campaign (`npm run fuzz`): runs test/worker/fuzz.test.ts in workerd with many
// runs per property, reads back the tally the test prints, and writes
// bench/results/fuzz-latest.json and .md. It fails unless at least --min-requests requests
// were made with 0 answers of 5xx, 0 partial rows and 0 cross-account reads.
//
//   node scripts/fuzz.mjs [--runs 1300] [--seed N] [--min-requests 10000] [--out FILE.json]
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");

function option(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : process.argv[i + 1];
}

const runs = Number(option("runs", 1300));
const seed = option("seed", String(Math.floor(Math.random() * 2 ** 31)));
const minRequests = Number(option("min-requests", 10_000));
const out = option("out", join(ROOT, "bench", "results", "fuzz-latest.json"));

// The Workers pool reads the assets folder named in wrangler.toml: build it as `npm test` does.
spawnSync(process.execPath, [join(ROOT, "scripts", "build-assets.mjs")], { cwd: ROOT, stdio: "inherit" });

const loadBefore = loadavg();
const started = Date.now();
const child = spawn(
  process.execPath,
  [join(ROOT, "node_modules", "vitest", "vitest.mjs"), "run", "--config", "vitest.config.ts", "test/worker/fuzz.test.ts"],
  {
    cwd: ROOT,
    env: { ...process.env, FUZZ_RUNS: String(runs), FUZZ_SEED: seed, FUZZ_MIN_REQUESTS: String(minRequests), WRANGLER_SEND_METRICS: "false" },
    stdio: ["ignore", "pipe", "pipe"],
  },
);
let output = "";
for (const stream of [child.stdout, child.stderr]) {
  stream.on("data", (chunk) => {
    output += chunk;
    // The report line is long and for the file below; everything else goes to the terminal.
    process.stdout.write(String(chunk).replace(/FUZZ_REPORT .*/g, "FUZZ_REPORT (written to the report file)"));
  });
}
const exitCode = await new Promise((resolve) => child.on("close", (code) => resolve(code ?? 1)));
const seconds = (Date.now() - started) / 1000;

const line = output.match(/FUZZ_REPORT (\{.*\})/);
const tally = line ? JSON.parse(line[1]) : null;
const failures = [];
if (!tally) failures.push("the test printed no report (it did not get to its end)");
else {
  if (tally.requests < minRequests) failures.push(`${tally.requests} requests, fewer than ${minRequests}`);
  if (tally.fiveXX) failures.push(`${tally.fiveXX} answers of 5xx`);
  if (tally.partialRowsTotal) failures.push(`${tally.partialRowsTotal} partial rows`);
  if (tally.crossAccountReads) failures.push(`${tally.crossAccountReads} cross-account reads`);
}
if (exitCode !== 0) failures.push(`vitest exited with ${exitCode} (a property failed: its counterexample is above)`);

const wrangler = JSON.parse(readFileSync(join(ROOT, "node_modules", "wrangler", "package.json"), "utf8")).version;
const report = {
  date: new Date(started).toISOString(),
  passed: failures.length === 0,
  failures,
  command: `npm run fuzz -- --runs ${runs} --seed ${seed}`,
  duration_s: Math.round(seconds * 10) / 10,
  requests_per_s: tally ? Math.round((tally.requests / seconds) * 10) / 10 : null,
  machine: {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model?.trim() ?? "unknown",
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    wrangler,
    load_average_before: loadBefore.map((n) => Math.round(n * 100) / 100),
    load_average_after: loadavg().map((n) => Math.round(n * 100) / 100),
  },
  runs_per_property: runs,
  seed: Number(seed),
  min_requests: minRequests,
  requests: tally?.requests ?? null,
  five_xx: tally?.fiveXX ?? null,
  partial_rows: tally?.partialRowsTotal ?? null,
  cross_account_reads: tally?.crossAccountReads ?? null,
  properties: tally?.byProperty ?? null,
  partial_row_checks: tally?.partialRows ?? null,
  examples: tally?.examples ?? [],
};
writeFileSync(out, JSON.stringify(report, null, 2) + "\n");

const answered = (p, lo) => Object.entries(p.answers ?? {}).reduce((n, [status, k]) => n + (Math.floor(Number(status) / 100) === lo ? k : 0), 0);
const rows = Object.entries(report.properties ?? {}).map(
  ([name, p]) => `| ${name} | ${p.runs} | ${p.requests} | ${answered(p, 2)} | ${answered(p, 4)} | ${answered(p, 5)} | ${(p.ms / 1000).toFixed(1)} |`,
);
const md = [
  `Fuzzed ${report.date} on ${report.machine.cpus}× ${report.machine.cpu_model}, ${report.machine.memory_gb} GB, Node ${report.machine.node}, wrangler ${wrangler} (workerd through the Vitest pool); load average ${report.machine.load_average_before[0]} before, ${report.machine.load_average_after[0]} after.`,
  "",
  `\`${report.command}\`: **${report.passed ? "passed" : "FAILED"}** in ${report.duration_s} s. ${report.requests ?? "?"} requests, ${report.five_xx ?? "?"} answers of 5xx, ${report.partial_rows ?? "?"} partial rows, ${report.cross_account_reads ?? "?"} cross-account reads.${failures.length ? ` Failed: ${failures.join("; ")}.` : ""}`,
  "",
  "| property | runs | requests | 2xx | 4xx | 5xx | seconds |",
  "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows,
  "",
];
writeFileSync(out.replace(/\.json$/, ".md"), md.join("\n"));

console.log(`\nfuzz: ${md[2]}\nreport: ${out}`);
process.exit(report.passed ? 0 : 1);
