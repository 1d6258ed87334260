/**
 * The outbound-fetch test double for Workers-runtime tests, bound in vitest.config.ts
 * as miniflare's outboundService: every fetch the Worker makes lands here (in Node),
 * not on the network. Receivers at https://receiver.test/<behaviour>/<key> answer
 * as the behaviour says and record what they got; tests read the record back with
 * GET https://receiver.test/__log/<key>.
 */
interface Received {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

const log = new Map<string, Received[]>();

const json = (value: unknown, status = 200, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json", ...headers } });

export async function receiverDouble(request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (url.hostname !== "receiver.test") return new Response("the network is off in tests", { status: 502 });
  const [behaviour, ...rest] = url.pathname.split("/").filter(Boolean);
  // The last segment is the receiver's own key: tests read their requests back by it.
  const key = rest[rest.length - 1] ?? behaviour;
  if (behaviour === "__log") return json(log.get(key) ?? []);

  const received: Received = {
    url: request.url,
    method: request.method,
    headers: Object.fromEntries(request.headers),
    body: await request.text(),
    at: Date.now(),
  };
  const seen = [...(log.get(key) ?? []), received];
  log.set(key, seen);

  switch (behaviour) {
    case "ok":
      return json({ received: true });
    case "status":
      return new Response(`answered ${rest[0]}`, { status: Number(rest[0]) });
    case "flaky": {
      // flaky/<n>/<id>: the first n requests fail with 500.
      const failures = Number(rest[0]);
      return seen.length <= failures ? new Response("not yet", { status: 500 }) : json({ ok: true });
    }
    case "sleeps": {
      // sleeps/<ms>,<ms>,.../<id>: the n-th request waits the n-th time of the list (cycling), then 200.
      const times = rest[0].split(",").map(Number);
      await new Promise((r) => setTimeout(r, times[(seen.length - 1) % times.length]));
      return json({ ok: true });
    }
    case "hang":
      await new Promise((r) => setTimeout(r, 5_000));
      return json({ late: true });
    case "busy": {
      // busy/<status>/<Retry-After, URL-encoded>/<id>: the first request gets the status and the header, then success.
      if (seen.length > 1) return json({ ok: true });
      return new Response("slow down", { status: Number(rest[0]), headers: { "retry-after": decodeURIComponent(rest[1]) } });
    }
    case "gone":
      return new Response("this endpoint is gone", { status: 410 });
    case "cloudflare-530":
      // cloudflare-530/<error code>/<id>: Cloudflare's answer when it cannot serve a host name.
      return new Response(`error code: ${rest[0]}`, { status: 530, headers: { server: "cloudflare" } });
    case "redirect":
      return new Response(null, { status: 302, headers: { location: "https://receiver.test/ok/redirected" } });
    case "big":
      return new Response("x".repeat(10_000), { status: 200, headers: { "x-big": "yes" } });
    case "limit": {
      // Exactly the logged body's cap (4096 bytes), with its length declared.
      const body = "z".repeat(4096);
      return new Response(body, { status: 200, headers: { "content-length": String(body.length) } });
    }
    case "big-headers":
      return json({ ok: true }, 200, { "x-huge": "h".repeat(60_000) });
    case "smartshape":
      return json({ success: true });
    // Answers that are not SmartShape's success (200 + application/json + {"success": true}).
    case "smartshape-false":
      return json({ success: false });
    case "smartshape-text":
      return new Response(JSON.stringify({ success: true }), { status: 200, headers: { "content-type": "text/plain" } });
    case "smartshape-201":
      return json({ success: true }, 201);
    case "smartshape-string":
      return json({ success: "true" });
    case "smartshape-empty":
      return new Response(null, { status: 200, headers: { "content-type": "application/json" } });
    case "smartshape-500":
      return json({ success: true }, 500);
    case "smartshape-flaky": {
      // smartshape-flaky/<n>/<id>: the first n requests get 200 {"success": false}, then success.
      const failures = Number(rest[0]);
      return json({ success: seen.length > failures });
    }
    // Success: media type parameters are ignored, and so are other members of the body.
    case "smartshape-charset":
      return new Response(JSON.stringify({ success: true, note: "ok" }), {
        status: 200,
        headers: { "content-type": "Application/JSON; charset=utf-8" },
      });
    default:
      return new Response("no such behaviour", { status: 404 });
  }
}
