/**
 * Emitting, without I/O: prepare the call (normalized data, event ids, idempotency
 * hashes), then, given what D1 found, decide the answer: a replay, a refusal, or the
 * rows to write and the deliveries to enqueue. src/services/emit.ts does the reading,
 * writing and enqueueing around it.
 */
import { sha256Hex } from "../core/encoding";
import { initialStatus } from "../core/delivery-state";
import { newId } from "../core/ids";
import { schemaErrors } from "../core/json-schema";
import { type Matchable, subscriptionMatches } from "../core/matching";
import { type FieldError, ProblemError } from "../core/problem";
import type { NewDelivery } from "../delivery/lifecycle";
import { type EmitEventInput, type EmitResultBody, MAX_DATA_BYTES } from "./emit-schema";

/** A delivery the plan creates, and whose account it is (not stored: its subscription says it). */
export type PlannedDelivery = NewDelivery & { accountId: string };

/** An idempotency key as stored: its account and `request:…` (the header) or `event:…` (one event). */
export type KeyPair = [accountId: string, key: string];

export interface PreparedEvent {
  input: EmitEventInput;
  id: string;
  /** The data serialized once, so every format signs exactly the bytes it sends. */
  data: string;
  timestamp: number;
  hash: string;
}

export interface PreparedCall {
  /** Name fields as `events[i].x` (a batch) or `x` (a single event). */
  batch: boolean;
  events: PreparedEvent[];
  /** Hashes and idempotency statements only when the call carries a key. */
  keyed: boolean;
  headerKey: KeyPair | null;
  eventKeys: (KeyPair | null)[];
  /** Every key of the call, the header's first: what D1 is asked about. */
  keyPairs: KeyPair[];
  requestHash: string;
  accountIds: string[];
  typeNames: string[];
}

export interface Remembered {
  /** account id, NUL, key */
  scope: string;
  request_hash: string;
  response: string;
}

export interface Found {
  accounts: { id: string }[];
  types: { name: string; schema: string | null }[];
  subscriptions: (Matchable & { id: string; accountId: string; active: boolean })[];
  /** Live keys among the call's keyPairs. */
  remembered: Remembered[];
}

export interface EventRow {
  id: string;
  accountId: string;
  type: string;
  subject: string | null;
  data: string;
  timestamp: number;
}

export interface RememberRow {
  accountId: string;
  key: string;
  requestHash: string;
  response: string;
}

export type EmitPlan =
  | { kind: "replay"; body: EmitResultBody }
  | { kind: "refused"; problem: ProblemError }
  | {
      kind: "write";
      events: EventRow[];
      /** With each one's account: an emit call writes each account's part on that account's shard. */
      deliveries: PlannedDelivery[];
      remember: RememberRow[];
      body: EmitResultBody;
      /** The deliveries to enqueue once written. */
      pendingIds: string[];
    };

const scopeKey = ([accountId, key]: KeyPair) => `${accountId}\u0000${key}`;
const fieldPath = (batch: boolean) => (i: number, field: string) => (batch ? `events[${i}].${field}` : field);

/** Throws payload_too_large for an event over MAX_DATA_BYTES: nothing else is known before D1 answers. */
export async function prepareEmit(
  inputs: EmitEventInput[],
  opts: { idempotencyKey?: string; batch: boolean },
  now: number,
): Promise<PreparedCall> {
  const at = fieldPath(opts.batch);
  const keyed = opts.idempotencyKey !== undefined || inputs.some((e) => e.idempotency_key !== undefined);
  const events = await Promise.all(
    inputs.map(async (input, i): Promise<PreparedEvent> => {
      const data = JSON.stringify(input.data);
      if (new TextEncoder().encode(data).length > MAX_DATA_BYTES) {
        const detail = `${at(i, "data")} is over the ${MAX_DATA_BYTES / 1024} KiB cap for one event`;
        throw new ProblemError("payload_too_large", detail, [
          { path: at(i, "data"), message: `larger than ${MAX_DATA_BYTES} bytes serialized` },
        ]);
      }
      const timestamp = input.timestamp ? Date.parse(input.timestamp) : now;
      const hash = keyed
        ? await sha256Hex(JSON.stringify([input.account_id, input.type, input.subject ?? null, data, input.timestamp ?? null]))
        : "";
      return { input, id: newId("event"), data, timestamp, hash };
    }),
  );
  const accountIds = [...new Set(inputs.map((e) => e.account_id))];
  const headerKey: KeyPair | null = opts.idempotencyKey ? [accountIds[0], `request:${opts.idempotencyKey}`] : null;
  const eventKeys = events.map(({ input }): KeyPair | null =>
    input.idempotency_key ? [input.account_id, `event:${input.idempotency_key}`] : null,
  );
  return {
    batch: opts.batch,
    events,
    keyed,
    headerKey,
    eventKeys,
    keyPairs: [headerKey, ...eventKeys].filter((k) => k !== null),
    requestHash: keyed ? await sha256Hex(events.map((p) => p.hash).join(",")) : "",
    accountIds,
    typeNames: [...new Set(inputs.map((e) => e.type))],
  };
}

/** The call's answer from what D1 found: a replay of the whole call, a refusal, or what to write. */
export function planEmit(call: PreparedCall, found: Found, now: number): EmitPlan {
  const rememberedByScope = new Map(found.remembered.map((r) => [r.scope, r]));
  // A replay of the whole call answers the first answer again.
  if (call.headerKey) {
    const first = rememberedByScope.get(scopeKey(call.headerKey));
    if (first) {
      if (first.request_hash !== call.requestHash) {
        const why = "this Idempotency-Key was used with a different body in the last 24 h";
        return { kind: "refused", problem: new ProblemError("conflict", why) };
      }
      return { kind: "replay", body: JSON.parse(first.response) };
    }
  }

  const eventScopes = call.eventKeys.map((k) => k && scopeKey(k));
  const errors = validationErrors(call, found, eventScopes, rememberedByScope);
  if (errors.length) {
    const code = errors.some((e) => e.message.startsWith("used with a different")) ? "conflict" : "validation";
    return { kind: "refused", problem: new ProblemError(code, errors.map((e) => `${e.path}: ${e.message}`).join("; "), errors) };
  }

  // Fan-out: each event to every matching subscription of its account; a switched-off one records it as skipped.
  const events: EventRow[] = [];
  const deliveries: PlannedDelivery[] = [];
  const remember: RememberRow[] = [];
  const answers: EmitResultBody["data"] = [];
  call.events.forEach((p, i) => {
    const replay = eventScopes[i] ? rememberedByScope.get(eventScopes[i]!) : undefined;
    if (replay) {
      answers.push(JSON.parse(replay.response));
      return;
    }
    const event = { type: p.input.type, subject: p.input.subject ?? null };
    let count = 0;
    for (const sub of found.subscriptions) {
      if (sub.accountId !== p.input.account_id || !subscriptionMatches(sub, event)) continue;
      const status = initialStatus(sub.active);
      deliveries.push({
        id: newId("delivery"),
        eventId: p.id,
        subscriptionId: sub.id,
        accountId: sub.accountId,
        status,
      });
      count++;
    }
    const { account_id: accountId, type, idempotency_key: key } = p.input;
    events.push({ id: p.id, accountId, type, subject: event.subject, data: p.data, timestamp: p.timestamp });
    const answer = { id: p.id, deliveries: count };
    answers.push(answer);
    if (key) remember.push({ accountId, key: `event:${key}`, requestHash: p.hash, response: JSON.stringify(answer) });
  });
  const body: EmitResultBody = { data: answers };
  if (call.headerKey) {
    const [accountId, key] = call.headerKey;
    remember.push({ accountId, key, requestHash: call.requestHash, response: JSON.stringify(body) });
  }
  const pendingIds = deliveries.filter((d) => d.status === "pending").map((d) => d.id);
  return { kind: "write", events, deliveries, remember, body, pendingIds };
}

function validationErrors(
  call: PreparedCall,
  found: Found,
  eventScopes: (string | null)[],
  rememberedByScope: Map<string, Remembered>,
): FieldError[] {
  const at = fieldPath(call.batch);
  const errors: FieldError[] = [];
  const knownAccounts = new Set(found.accounts.map((a) => a.id));
  const knownTypes = new Map(found.types.map((t) => [t.name, t]));
  const seenScopes = new Set<string>();
  call.events.forEach((p, i) => {
    if (!knownAccounts.has(p.input.account_id)) errors.push({ path: at(i, "account_id"), message: "no such account" });
    const type = knownTypes.get(p.input.type);
    if (!type) errors.push({ path: at(i, "type"), message: `unknown event type ${p.input.type}` });
    else if (type.schema) errors.push(...schemaErrors(type.schema, p.input.data, at(i, "data")));
    const scope = eventScopes[i];
    if (scope) {
      if (seenScopes.has(scope)) errors.push({ path: at(i, "idempotency_key"), message: "repeated within this call" });
      seenScopes.add(scope);
      const first = rememberedByScope.get(scope);
      if (first && first.request_hash !== p.hash) {
        errors.push({ path: at(i, "idempotency_key"), message: "used with a different event in the last 24 h" });
      }
    }
  });
  return errors;
}
