// The receiver every delivery goes to, Hookline's and the baseline's alike: a server on
// 127.0.0.1 that answers 200 at once, closing the connection, and verifies every signature it can.
// It verifies them once a run's deliveries are in (waitFor), not as they arrive: a real receiver
// runs on machines of its own, and checking signatures (standardwebhooks' HMAC is JavaScript) on
// the two cores the service under test runs on would charge Hookline's side with its receivers'
// work (0.28 ms of CPU per delivery in (a), by `node scripts/bench/probe.mjs`), which the
// baseline's unsigned side never pays. A delivery whose signature fails is still counted as
// received; the report's invalid_signatures gives how many failed.
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";
import { sleep } from "./util.mjs";

export async function startReceiver() {
  const secrets = new Map(); // path -> secret
  const seen = new Map(); // delivery key -> { at, sentAt, run }
  const byRun = new Map(); // run -> receipts
  let invalid = 0;
  const unverified = []; // { secret, body, headers } of signed deliveries not yet checked
  // Within minutes of their arrival: standardwebhooks refuses a timestamp older than five.
  const verifyPending = () => {
    for (const { secret, body, headers } of unverified.splice(0)) {
      try {
        new Webhook(secret).verify(body, headers);
      } catch {
        invalid++;
      }
    }
  };
  let crossed = 0; // (d): a delivery at another account's endpoint
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const at = performance.timeOrigin + performance.now();
      const body = Buffer.concat(chunks).toString("utf8");
      const secret = secrets.get(req.url);
      try {
        const data = JSON.parse(body).data;
        if (secret) unverified.push({ secret, body, headers: req.headers });
        if (data.account !== undefined && req.url !== `/hookline/d/${data.account}`) crossed++;
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
      res.writeHead(200, { "content-type": "application/json", connection: "close" });
      res.end('{"ok":true}');
    });
  });
  // Every answer closes its connection. Local workerd opens a connection per delivery and, when the
  // receiver keeps it alive, never closes its side: each one stays open (ESTABLISHED, then
  // CLOSE_WAIT once the receiver gives up on it), so after about 20,000 deliveries (the process's
  // open-file limit here) workerd's every socket() failed with "Too many open files" and the
  // Worker stopped answering: the "stuck" queues of earlier runs, on both sides. Idle connections
  // are also closed after a second, and each run waits for TIME_WAIT sockets to clear.
  server.keepAliveTimeout = 1_000;
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  const received = (run) => byRun.get(run) ?? [];
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    secrets,
    invalid: () => (verifyPending(), invalid),
    crossed: () => crossed,
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
      // After the run's last receipt, so outside what its figures measure.
      verifyPending();
      return received(run);
    },
    close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))),
  };
}
