#!/usr/bin/env node
// `node scripts/bench/queue-cap.mjs [EVENTS]`: shows why (b) stays at 8,000 deliveries. Hookline,
// as the bench starts it, gets EVENTS events (default 800) for 20 subscriptions in calls of 100,
// 8 at a time: 16,000 queue messages at once. wrangler's local Queues broker arms one timer per
// message and workerd caps a Durable Object at 10,000 active timers, so past that sendBatch fails
// ("Unknown Internal Error (15000)", QuotaExceededError in wrangler's log), Hookline leaves those
// deliveries to the sweep (which the bench does not run) and the receipts stop near 10,000.
import { startHooklineSide } from "./hookline-side.mjs";
import { startReceiver } from "./receiver.mjs";

const events = Number(process.argv[2] ?? 800);
const sizes = {
  a: 0, cRate: 1, cSeconds: 0, concurrency: 1,
  bSubs: 20, bEvents: events, bBatch: 100, bConcurrency: 8,
  callDeadlineMs: 30_000,
  wait: (expected) => ({ deadlineMs: 60_000 + 25 * expected, stallMs: 20_000 }),
};
const receiver = await startReceiver();
const hookline = await startHooklineSide(receiver, sizes);
try {
  const run = await hookline.scenarios.b(1);
  console.log(`${run.deliveries_expected} deliveries emitted in ${run.emit_calls} calls (${run.errors.count} failed): ` +
    `${run.deliveries_received} received before receipts stopped for 20 s`);
} finally {
  await hookline.stop();
  await receiver.close();
}
