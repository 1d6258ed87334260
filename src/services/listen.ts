/**
 * `webhook listen` sessions: temporary subscriptions, one per event type, whose
 * deliveries go over the CLI's WebSocket instead of fetch. They do not count toward
 * the plan; an account holds at most MAX_LISTEN_SESSIONS at once.
 */
import { eq, sql } from "drizzle-orm";
import { type Config, MAX_LISTEN_SESSIONS } from "../config";
import { type FormatName, formats } from "../core/formats";
import { newId } from "../core/ids";
import { ProblemError } from "../core/problem";
import { database, sqlAll, sqlRun } from "../db/client";
import { type AccountRow, listenSessions } from "../db/schema";
import { shardOf } from "../db/shards";
import { listenSessionOf } from "../delivery/listen";
import { eventTypeErrors, newSubscriptionRow, sealSecret } from "./subscriptions";

export const LISTEN_SCHEME = "listen://";
export const listenTarget = (sessionId: string) => `${LISTEN_SCHEME}${sessionId}`;

export interface ListenInput {
  eventTypes: string[];
  format: FormatName;
  subjects: string[] | null;
}

/** Opens a session for the account; `keyId` is the API key that opened it (revoking it closes the session). */
export async function openListenSession(env: Env, config: Config, account: AccountRow, keyId: string, input: ListenInput) {
  const [errors, [open]] = await Promise.all([
    eventTypeErrors(env, input.eventTypes),
    sqlAll<{ n: number }>(env.DB, sql`SELECT count(*) AS n FROM listen_sessions WHERE account_id = ${account.id}`),
  ]);
  if (errors.length) throw new ProblemError("validation", errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors);
  // Refused before sealing: a smartshape secret's bcrypt costs ~100 ms of CPU. The INSERT below checks again.
  if ((open?.n ?? 0) >= MAX_LISTEN_SESSIONS) throw tooManySessions();
  const format = formats[input.format];
  const sessionId = newId("listenSession");
  const now = Date.now();
  const expiresAt = now + config.listenLeaseSeconds * 2000;
  // One secret for the session, sealed (and for smartshape, hashed) once for all its subscriptions.
  const sealed = await sealSecret(config, format, format.secret.generate());
  const rows = input.eventTypes.map((type) =>
    newSubscriptionRow(
      {
        id: newId("subscription"),
        accountId: account.id,
        url: listenTarget(sessionId),
        eventTypes: [type],
        subjects: input.subjects,
        description: `webhook listen ${sessionId}`,
        format: format.name,
        headers: {},
        metadata: {},
        active: true,
        listenSessionId: sessionId,
        throttleRate: null,
      },
      sealed,
      now,
    ),
  );
  const values = rows.map((r) => [r.id, r.url, JSON.stringify(r.eventTypes), r.subjects === null ? null : JSON.stringify(r.subjects), r.description]);
  const [session] = await database(env.DB).batch([
    // The session limit is checked by the statement that inserts, so concurrent opens cannot pass it.
    sqlRun(env.DB, sql`
      INSERT INTO listen_sessions (id, account_id, created_at, expires_at)
      SELECT ${sessionId}, ${account.id}, ${now}, ${expiresAt}
      WHERE (SELECT count(*) FROM listen_sessions WHERE account_id = ${account.id}) < ${MAX_LISTEN_SESSIONS}`),
    sqlRun(env.DB, sql`
      INSERT INTO subscriptions (id, account_id, url, event_types, subjects, description, format, headers, metadata,
        active, consecutive_failures, secret_enc, derived_enc, listen_session_id, created_at, updated_at)
      SELECT value ->> 0, ${account.id}, value ->> 1, value ->> 2, value ->> 3, value ->> 4, ${format.name}, '{}', '{}',
        1, 0, ${sealed.secretEnc}, ${sealed.derivedEnc}, ${sessionId}, ${now}, ${now}
      FROM json_each(${JSON.stringify(values)})
      WHERE EXISTS (SELECT 1 FROM listen_sessions WHERE id = ${sessionId})`),
  ]);
  if (session.meta.changes === 0) throw tooManySessions();
  await listenSessionOf(env, sessionId).open(sessionId, keyId, shardOf(env));
  return { id: sessionId, rows, expiresAt };
}

/**
 * A revoked key: the sessions it opened are closed now, and sockets that came with it
 * dropped (an account holds a few sessions at most). Should a call fail, the session's
 * own alarm finds the key gone within a lease.
 */
export async function revokeListenKey(env: Env, accountId: string, keyId: string): Promise<void> {
  const sessions = await database(env.DB)
    .select({ id: listenSessions.id })
    .from(listenSessions)
    .where(eq(listenSessions.accountId, accountId));
  const settled = await Promise.allSettled(sessions.map((s) => listenSessionOf(env, s.id).revokeKey(keyId)));
  for (const s of settled) if (s.status === "rejected") console.error("listen session not told of a revoked key:", String(s.reason));
}

const tooManySessions = () =>
  new ProblemError(
    "forbidden",
    `an account may hold ${MAX_LISTEN_SESSIONS} listen sessions at once: stop one (its subscriptions go with it) or wait for its lease to run out`,
  );
