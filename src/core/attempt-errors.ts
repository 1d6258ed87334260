/**
 * What a failed attempt says to a person: what went wrong and with which host. The
 * runtime's own words are terse ("Network connection lost." for a refused or reset
 * connection, "internal error; reference = ..." for a name that does not resolve):
 * these say what they mean, naming the host so the log reads without the url beside it.
 */

/** Response headers kept per attempt, names and values together, like the body's cap. */
export const RESPONSE_HEADERS_LIMIT = 4096;

export function networkError(url: URL | string, err: unknown): string {
  const host = typeof url === "string" ? safeHost(url) : url.host;
  const message = err instanceof Error ? err.message : String(err);
  if (/network connection lost/i.test(message)) {
    return `could not connect to ${host}: the connection was refused or closed before an answer`;
  }
  if (/^internal error; reference/i.test(message)) {
    return `could not connect to ${host}: the host name does not resolve, or the connection failed (no detail from the runtime)`;
  }
  return `could not connect to ${host}: ${message}`;
}

function safeHost(url: string): string {
  try {
    return new URL(url).host;
  } catch {
    return "the receiver";
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
