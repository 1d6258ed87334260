// The receiver every delivery goes to, Hookline's and the baseline's alike: a server on
// 127.0.0.1 that answers 200 at once and verifies every signature it can.
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { sleep } from "./util.mjs";

export async function startReceiver() {
  const secrets = new Map(); // path -> secret
  const seen = new Map(); // delivery key -> { at, sentAt, run }
  const byRun = new Map(); // run -> receipts
  let invalid = 0;
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.timeOrigin + performance.now();
      const body = Buffer.concat(chunks).toString("utf8");
      const secret = secrets.get(req.url);
      try {
        if (secret) new Webhook(secret).verify(body, req.headers);
        const data = JSON.parse(body).data;
        // Hookline names each (event, subscription) by webhook-id; the baseline by path and sequence.
        const key = req.headers["webhook-id"] ?? `${req.url}:${data.run}:${data.seq}`;
        if (!seen.has(key)) {
          const receipt = { at, sentAt: data.sentAt };
          seen.set(key, receipt);
          if (!byRun.has(data.run)) byRun.set(data.run, []);
          byRun.get(data.run).push(receipt);
        }
      } catch {
        invalid++;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
  });
  // workerd opens a connection per request here and seldom reuses one: kept open for long, a
  // (b) run of 8,000 deliveries held about 12,000 of the 28,000 ephemeral ports of 127.0.0.1,
  // and the next run (the other side's) found none free (its calls hung: the "stuck" baseline of
  // earlier runs). Closing idle connections after a second frees them, with the TIME_WAIT on
  // this side, whose port is not ephemeral.
  server.keepAliveTimeout = 1_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const received = (run) => byRun.get(run) ?? [];
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    secrets,
    invalid: () => invalid,
    received,
    /**
     * Waits for `expected` receipts of `run`, but never past `deadlineMs`, nor `stallMs` after
     * the last new receipt: a stuck queue ends the wait early and shows as missing deliveries.
     */
    async waitFor(run, expected, { deadlineMs, stallMs }) {
      const deadline = Date.now() + deadlineMs;
      let last = received(run).length;
      let lastChange = Date.now();
      while (received(run).length < expected && Date.now() < deadline && Date.now() - lastChange < stallMs) {
        await sleep(50);
        if (received(run).length !== last) [last, lastChange] = [received(run).length, Date.now()];
      }
      return received(run);
    },
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))),
  };
}
