/// <reference types="node" />
/**
 * `webhook listen`'s session on the service: opened with POST /v1/listen (one temporary
 * subscription per event type), closed with DELETE /v1/listen/{id}, which deletes them.
 */
import type { components } from "../client/schema";
import type { Api } from "./api";
import type { Say } from "./listen-deliveries";
import { CliError, dim, errorMessage, notice, red } from "./output";

export type ListenSession = components["schemas"]["ListenSession"];

export interface ListenOptions {
  events: string[];
  format: "standard" | "clara" | "clarife" | "smartshape";
  subjects?: string[];
  forwardTo?: string;
}

const CLEANUP_TIMEOUT_MS = 5_000;

const stamp = () => new Date().toISOString().slice(11, 19);

/** Notices on stderr that start with the time of day. */
export const timestamped =
  (color: boolean): Say =>
  (text) =>
    notice(`${dim(color, stamp())} ${text}`);

export function websocketUrl(serviceUrl: string, connectPath: string): string {
  const url = new URL(connectPath, serviceUrl + "/");
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}

export function createListenSession(api: Api, options: ListenOptions): Promise<ListenSession> {
  return api.call(
    api.client.POST("/v1/listen", {
      body: { event_types: options.events, format: options.format, ...(options.subjects?.length ? { subjects: options.subjects } : {}) },
    }),
  );
}

/** Says what the new session listens for and, when forwarding, its signing secret. */
export async function announceSession(api: Api, session: ListenSession, options: ListenOptions, say: Say): Promise<void> {
  const forwardTo = options.forwardTo;
  say(
    `listening for ${options.events.join(", ")} (${options.format}) on ${session.id}` +
      (forwardTo ? `, forwarding to ${forwardTo}` : "") +
      "; Ctrl-C to stop",
  );
  if (!forwardTo || !session.subscriptions[0]) return;
  // The forward target checks signatures like any receiver: it needs the session's secret
  // (one for all its subscriptions, new for every session).
  try {
    const { secret } = await api.call(
      api.client.GET("/v1/subscriptions/{id}/secret", { params: { path: { id: session.subscriptions[0].id } } }),
    );
    if (secret) say(`this session's signing secret: ${secret}`);
  } catch (err) {
    say(`could not read this session's signing secret (${errorMessage(err)})`);
  }
}

/** Deletes the session and its subscriptions; false when that failed (one already gone counts as closed). */
export async function closeListenSession(api: Api, id: string, color: boolean, say: Say): Promise<boolean> {
  try {
    await Promise.race([
      api.call(api.client.DELETE("/v1/listen/{id}", { params: { path: { id } } })),
      new Promise((_, reject) => setTimeout(() => reject(new CliError("the service did not answer")), CLEANUP_TIMEOUT_MS)),
    ]);
    say(`closed ${id}: its subscriptions are deleted`);
    return true;
  } catch (err) {
    if ((err as { status?: number }).status === 404) return true;
    notice(`${red(color, "error:")} could not close ${id} (${errorMessage(err)}); the service deletes its subscriptions when its lease runs out`);
    return false;
  }
}
