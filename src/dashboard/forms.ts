/**
 * HTML forms in, service inputs out. The shape checks use the /v1 schemas' limits (core/limits);
 * the rules (target urls, the catalog, secrets, the plan cap) stay in src/services,
 * whose ProblemError field paths the pages show next to their fields.
 */
import { z } from "@hono/zod-openapi";
import { fieldErrors } from "../api/context";
import { formatNames } from "../core/formats";
import type { FormatName } from "../core/formats";
import { EVENT_PATTERN_MESSAGE, SUBSCRIPTION_LIMITS } from "../core/limits";
import { PATTERN_REGEX } from "../core/matching";
import type { FieldError } from "../core/problem";
import { MAX_RATE, MIN_RATE } from "../core/throttle";

export type FormBody = Record<string, string | File | (string | File)[]>;

/** What the subscription form holds, as typed: shown again when it is refused. */
export interface SubscriptionFormValues {
  url: string;
  eventTypes: string[];
  subjects: string;
  description: string;
  format: FormatName;
  secret: string;
  /** Deliveries a second at most, as typed; empty: no limit. */
  throttleRate: string;
}

export const emptyForm: SubscriptionFormValues = {
  url: "",
  eventTypes: [],
  subjects: "",
  description: "",
  format: "standard",
  secret: "",
  throttleRate: "",
};

const text = (body: FormBody, name: string): string => {
  const v = body[name];
  const first = Array.isArray(v) ? v[0] : v;
  return typeof first === "string" ? first : "";
};

const texts = (body: FormBody, name: string): string[] => {
  const v = body[name] ?? body[`${name}[]`];
  const all = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return all.filter((x): x is string => typeof x === "string");
};

export const field = text;

export function readSubscriptionForm(body: FormBody): SubscriptionFormValues {
  const format = text(body, "format");
  return {
    url: text(body, "url").trim(),
    eventTypes: [...new Set(texts(body, "event_types"))],
    subjects: text(body, "subjects"),
    description: text(body, "description").trim(),
    format: (formatNames as string[]).includes(format) ? (format as FormatName) : ("" as FormatName),
    secret: text(body, "secret").trim(),
    throttleRate: text(body, "throttle_rate").trim(),
  };
}

const L = SUBSCRIPTION_LIMITS;
const THROTTLE_MESSAGE = `enter a whole number of deliveries a second from ${MIN_RATE} to ${MAX_RATE}, or leave it empty for no limit`;
const SubscriptionFields = z.object({
  url: z.string().min(1, "enter the endpoint's URL").max(L.url),
  event_types: z
    .array(z.string().max(L.eventType).regex(PATTERN_REGEX, EVENT_PATTERN_MESSAGE))
    .min(1, "pick at least one event")
    .max(L.eventTypes, `pick at most ${L.eventTypes}`),
  subjects: z
    .array(z.string().min(1).max(L.subject, `each subject is at most ${L.subject} characters`))
    .max(L.subjects, `at most ${L.subjects} subjects`),
  description: z.string().max(L.description, `at most ${L.description} characters`),
  format: z.enum(formatNames, "pick a format"),
  secret: z.string().max(L.secret, `at most ${L.secret} characters`),
  throttle_rate: z
    .string()
    .refine((v) => v === "" || (/^\d{1,5}$/.test(v) && Number(v) >= MIN_RATE && Number(v) <= MAX_RATE), THROTTLE_MESSAGE),
});

export const splitSubjects = (raw: string) => raw.split(/[\s,]+/).filter(Boolean);

/** The service input, or the field errors of a form that cannot be one. */
export function checkSubscriptionForm(values: SubscriptionFormValues) {
  const subjects = splitSubjects(values.subjects);
  const parsed = SubscriptionFields.safeParse({
    url: values.url,
    event_types: values.eventTypes,
    subjects,
    description: values.description,
    format: values.format,
    secret: values.secret,
    throttle_rate: values.throttleRate,
  });
  if (!parsed.success) return { ok: false as const, errors: fieldErrors(parsed.error) };
  return {
    ok: true as const,
    input: {
      url: values.url,
      eventTypes: values.eventTypes,
      subjects: subjects.length ? subjects : null,
      description: values.description,
      format: values.format,
      secret: values.secret || undefined,
      throttleRate: values.throttleRate === "" ? null : Number(values.throttleRate),
    },
  };
}

/** Field errors by the form field they concern (`event_types.2` is the events picker); the rest go to the summary. */
export function errorsByField(errors: FieldError[], fields: readonly string[]) {
  const byField: Record<string, string[]> = {};
  const general: FieldError[] = [];
  for (const e of errors) {
    const name = e.path.split(".")[0];
    if (fields.includes(name)) (byField[name] ??= []).push(e.message);
    else general.push(e);
  }
  return { byField, general };
}
