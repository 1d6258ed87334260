/**
 * What a failed attempt says to a person: what went wrong, with which host, and what to
 * check. The runtime's own words are terse or opaque: workerd says "Network connection
 * lost." for a refused or reset connection, and "internal error; reference = ..." for a
 * name that does not resolve, a failed TLS handshake and an answer that is not HTTP alike.
 * A failure is therefore followed by a probe (src/delivery/probe.ts: a plain TCP connection,
 * then a TLS one) whose result tells these apart. In production Cloudflare answers most of
 * them itself, with its 52x and 530 statuses: those are named for what they mean.
 */
import type { RetryAfter } from "./receiver-signals";

/** Response headers kept per attempt, names and values together, like the body's cap. */
export const RESPONSE_HEADERS_LIMIT = 4096;
const LOCATION_LIMIT = 512;

/** The host (and port, when not the scheme's default) the log names. */
export function hostOf(url: URL | string): string {
  if (typeof url !== "string") return url.host;
  try {
    return new URL(url).host;
  } catch {
    return "the receiver";
  }
}

const REASONS: Record<number, string> = {
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  413: "Content Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

/** What a status says, and what to check. */
const HINTS: Record<number, string> = {
  400: "the receiver refused the request (check what it expects of the body)",
  401: "the receiver refused the request's credentials (check that it verifies with this subscription's current secret, and the custom headers)",
  403: "the receiver refused the request's credentials (check that it verifies with this subscription's current secret, and the custom headers)",
  404: "nothing at this path (check the subscription's url)",
  405: "the endpoint does not take POST requests (check the subscription's url)",
  408: "the receiver gave up reading the request",
  410: "the receiver says this endpoint is gone for good",
  413: "the payload is too large for the receiver",
  415: "the receiver does not take application/json",
  422: "the receiver refused the request (check what it expects of the body)",
  429: "the receiver is rate limiting (a throttle_rate on the subscription keeps under its limit)",
  500: "the receiver failed on its side (its logs say why)",
  501: "the receiver does not handle this request",
  502: "a proxy in front of the receiver got no valid answer from it",
  503: "the receiver is unavailable for now",
  504: "a proxy in front of the receiver got no answer from it in time",
};

/** Cloudflare's own answers when it cannot reach an origin (its 5xx error pages). */
export const CLOUDFLARE_STATUSES: Record<number, string> = {
  520: "Cloudflare: the origin server returned an empty, unknown or unexpected answer",
  521: "Cloudflare: the origin server refused the connection (web server is down)",
  522: "Cloudflare: the origin server did not accept the connection in time (connection timed out)",
  523: "Cloudflare: the origin server is unreachable (check its DNS records point to the right address)",
  524: "Cloudflare: the origin server accepted the connection but did not answer within 100 s",
  525: "Cloudflare: the TLS handshake with the origin server failed",
  526: "Cloudflare: the origin server's TLS certificate is not valid",
  527: "Cloudflare: the connection to the origin's Railgun listener failed",
  530: "Cloudflare: the host name could not be served",
};

/** Cloudflare's error codes in a 530's body (`error code: 1016`). */
const CLOUDFLARE_CODES: Record<string, string> = {
  "1016": "Cloudflare: the host name does not resolve (origin DNS error 1016)",
  "1033": "Cloudflare: the tunnel to the origin is down (error 1033)",
};

export interface Answer {
  status: number;
  /** The Location header, for a redirect. */
  location: string | null;
  body: string;
  /** Why the format refused a 2xx answer. */
  refusal: string | null;
  retryAfter: RetryAfter | null;
}

/** Why an answer is a failure, naming the host. */
export function answerError(host: string, a: Answer): string {
  const head = `${host} answered ${a.status}${REASONS[a.status] ? ` ${REASONS[a.status]}` : ""}`;
  if (a.status >= 200 && a.status < 300) {
    return `${head}, not a success for this format: ${a.refusal ?? "the format refused the answer"}`;
  }
  if (a.status >= 300 && a.status < 400) {
    const where = a.location === null ? "a redirect without a Location" : `a redirect to ${a.location.slice(0, LOCATION_LIMIT)}`;
    return `${head}, ${where}: redirects are not followed (point the subscription at the new url if the endpoint moved)`;
  }
  const cloudflare = a.status === 530 ? cloudflare530(a.body) : CLOUDFLARE_STATUSES[a.status];
  const what = cloudflare ?? HINTS[a.status] ?? (a.status >= 500 ? "the receiver failed on its side" : "the receiver refused the request");
  return `${head}: ${what}${a.retryAfter ? `; ${waitText(a.retryAfter)}` : ""}`;
}

function cloudflare530(body: string): string {
  const code = /error code: (\d{4})/i.exec(body)?.[1];
  return (code && CLOUDFLARE_CODES[code]) ?? (code ? `${CLOUDFLARE_STATUSES[530]} (error ${code})` : CLOUDFLARE_STATUSES[530]);
}

/** The wait a Retry-After asked for, as the attempt log shows it. */
export function waitText(r: RetryAfter): string {
  const asked = `it asked to wait ${r.asked} s (Retry-After: ${r.raw})`;
  return r.asked > r.seconds ? `${asked}: any next attempt waits ${r.seconds} s, the longest Hookline waits` : `${asked}: any next attempt waits at least that long`;
}

/** What a probe after a failed fetch found (src/delivery/probe.ts); "unknown" when there was none. */
export interface Probe {
  /** A plain TCP connection to the host and port. */
  tcp: "open" | "failed" | "unknown";
  /** For https, a TLS connection once TCP opened. */
  tls: "ok" | "failed" | "unknown";
}

export const NO_PROBE: Probe = { tcp: "unknown", tls: "unknown" };

const isIpLiteral = (hostname: string) => /^\[.*\]$/.test(hostname) || /^\d+\.\d+\.\d+\.\d+$/.test(hostname);

/** Why a fetch that threw failed, naming the host. */
export function networkError(url: URL | string, err: unknown, probe: Probe = NO_PROBE): string {
  const parsed = typeof url === "string" ? safeUrl(url) : url;
  const host = parsed ? parsed.host : hostOf(url);
  const port = parsed ? parsed.port || (parsed.protocol === "https:" ? "443" : "80") : "?";
  const message = err instanceof Error ? err.message : String(err);
  if (/network connection lost/i.test(message)) {
    if (probe.tcp === "failed") return `${host} refused the connection: nothing accepts connections on port ${port} (is the receiver running?)`;
    if (probe.tcp === "open") return `${host} closed the connection before answering`;
    return `${host} refused or closed the connection before answering`;
  }
  if (/^internal error; reference/i.test(message)) {
    if (probe.tcp === "failed") {
      return parsed && !isIpLiteral(parsed.hostname)
        ? `${parsed.hostname} does not resolve: DNS has no address for it (check the host name in the subscription's url)`
        : `could not connect to ${host}`;
    }
    if (probe.tcp === "open" && parsed?.protocol === "https:" && probe.tls === "failed") {
      return `the TLS handshake with ${host} failed: its certificate is not trusted or not for this host name, or it does not speak TLS on port ${port}`;
    }
    if (probe.tcp === "open") return `${host} answered with something that is not HTTP`;
    return `could not connect to ${host}: no DNS address, a failed TLS handshake or an answer that is not HTTP (the runtime does not say which)`;
  }
  return `could not connect to ${host}: ${message}`;
}

function safeUrl(url: string): URL | null {
  try {
    return new URL(url);
  } catch {
    return null;
  }
}

/**
 * Response headers the log does not keep: the connection's own (hop-by-hop, RFC 9110 7.6.1),
 * which say nothing about the receiver's answer, and `date`, which the attempt's time already
 * says. A prompt JSON answer then keeps about 35 bytes of headers instead of about 160.
 */
const NOT_KEPT = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "date"]);

/** A response's headers as the attempt log keeps them: in order, without those in NOT_KEPT, at most RESPONSE_HEADERS_LIMIT characters in all. */
export function cappedHeaders(headers: Headers, limit = RESPONSE_HEADERS_LIMIT): Record<string, string> {
  const kept: Record<string, string> = {};
  let budget = limit;
  for (const [name, value] of headers) {
    if (NOT_KEPT.has(name)) continue;
    if (budget <= name.length) break;
    budget -= name.length;
    kept[name] = value.length > budget ? value.slice(0, budget) : value;
    budget -= kept[name].length;
  }
  return kept;
}
