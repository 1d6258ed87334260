/**
 * A format turns an event into bytes on the wire: envelope, headers and signature,
 * and the rule for which response counts as success. The engine knows formats
 * only through this interface.
 */
import type { Scheme } from "../url-safety";

export type FormatName = "standard" | "clara" | "clarife" | "smartshape";

/** What a format may read of an event (data is the normalized JSON text). */
export interface FormatEvent {
  id: string;
  type: string;
  subject: string | null;
  data: string;
  /** Event time, ms since the epoch. */
  timestamp: number;
  owner: string;
}

export interface SigningInput {
  /** The delivery id: stable across every attempt of one delivery. */
  deliveryId: string;
  /** The current secret first, then any still inside its rotation grace period. */
  secrets: string[];
  /** The value the format derived once from the secret (smartshape: the bcrypt hash). */
  derived: string | null;
  /** This attempt's time, ms since the epoch. */
  now: number;
}

export interface ResponseSummary {
  status: number;
  contentType: string | null;
  /** The first bytes of the body as text (enough to judge success). */
  body: string;
}

export interface SecretPolicy {
  /** generated: made when not given; optional: may be absent; required: the caller gives it. */
  kind: "generated" | "optional" | "required";
  generate(): string;
  /** An error message when a given secret has the wrong form, null when it is fine. */
  check(secret: string): string | null;
  /** Work done once when the secret is set, never per delivery. */
  derive?(secret: string): Promise<string>;
  /** Seconds the previous secret still signs after a rotation (0: replaced at once). */
  rotationGraceSeconds: number;
}

export interface Format {
  name: FormatName;
  schemes: readonly Scheme[];
  secret: SecretPolicy;
  /** Lower-case names of the headers this format sets; custom headers cannot override them. */
  reservedHeaders: readonly string[];
  body(event: FormatEvent): string;
  headers(body: string, input: SigningInput): Promise<Record<string, string>>;
  isSuccess(response: ResponseSummary): boolean;
  /** Why an answer is not a success although its status is 2xx (formats that read the body); null when it is one. */
  refusal?(response: ResponseSummary): string | null;
}

export const is2xx = (r: ResponseSummary) => r.status >= 200 && r.status < 300;
