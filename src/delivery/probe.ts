/**
 * After a fetch that threw, a look at what failed: a plain TCP connection to the target's host
 * and port, then for https a TLS one. workerd's fetch says the same opaque "internal error" for
 * a name that does not resolve, a failed TLS handshake and an answer that is not HTTP; these
 * connections fail, or open, differently for each (core/attempt-errors reads the result).
 * Runs only on failures: a healthy delivery never pays for it.
 */
import { connect } from "cloudflare:sockets";
import type { Probe } from "../core/attempt-errors";

const PROBE_TIMEOUT_MS = 2_000;

async function opens(hostname: string, port: number, tls: boolean, timeoutMs: number): Promise<boolean | null> {
  let socket: ReturnType<typeof connect> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    socket = connect({ hostname, port }, { secureTransport: tls ? "on" : "off", allowHalfOpen: false });
    const timeout = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
    return await Promise.race([socket.opened.then(() => true), timeout]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    socket?.close().catch(() => {});
  }
}

export async function probe(url: URL, timeoutMs = PROBE_TIMEOUT_MS): Promise<Probe> {
  const https = url.protocol === "https:";
  const port = Number(url.port || (https ? 443 : 80));
  const hostname = url.hostname.replace(/^\[(.*)\]$/, "$1");
  const tcp = await opens(hostname, port, false, timeoutMs);
  if (tcp !== true || !https) return { tcp: tcp === null ? "unknown" : tcp ? "open" : "failed", tls: "unknown" };
  const tls = await opens(hostname, port, true, timeoutMs);
  return { tcp: "open", tls: tls === null ? "unknown" : tls ? "ok" : "failed" };
}
