/**
 * A `webhook listen` socket keeps its session's lease only while it is heard from: the
 * CLI's heartbeat ("ping", answered by the runtime without waking the Durable Object) or
 * any real message. A Worker cannot ping, so silence is the only sign of a dead peer.
 */

/** The heartbeat the CLI sends and the answer the session's Durable Object gives without waking. */
export const HEARTBEAT = { request: "ping", response: "pong" } as const;

/** Close codes the service uses on a listen socket (4000-4999 are the application's). */
export const LISTEN_CLOSE = {
  /** Nothing heard for a whole lease: the session is closed with it (the CLI opens a new one). */
  silent: 4000,
  /** The key that opened the session or the socket was revoked, or its account deleted: final. */
  revoked: 4001,
} as const;

/** Never look again sooner than this: a socket heard from just now is not re-checked in a tight loop. */
const MIN_RECHECK_MS = 1_000;

export interface LeaseVerdict {
  /** Indexes of the sockets not heard from for a whole lease. */
  silent: number[];
  /** When to look again, or null when no socket is left alive. */
  recheckAt: number | null;
}

/** Which sockets lost the lease, given when each was last heard from, and when the next may lose it. */
export function leaseVerdict(lastHeard: number[], now: number, leaseMs: number): LeaseVerdict {
  const silent: number[] = [];
  let oldestLive = Infinity;
  lastHeard.forEach((heard, i) => {
    if (now - heard >= leaseMs) silent.push(i);
    else oldestLive = Math.min(oldestLive, heard);
  });
  const recheckAt = oldestLive === Infinity ? null : Math.max(oldestLive + leaseMs, now + MIN_RECHECK_MS);
  return { silent, recheckAt };
}
