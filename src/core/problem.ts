/**
 * One error type for the whole service. Every 4xx/5xx answer is an RFC 9457
 * problem body built from a code; the code alone decides the status and title.
 */
export const problemCodes = {
  bad_request: { status: 400, title: "Bad request" },
  invalid_json: { status: 400, title: "Malformed JSON" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  plan_limit: { status: 403, title: "Plan limit reached" },
  not_found: { status: 404, title: "Not found" },
  method_not_allowed: { status: 405, title: "Method not allowed" },
  conflict: { status: 409, title: "Conflict" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  validation: { status: 422, title: "Validation failed" },
  internal: { status: 500, title: "Internal error" },
  unavailable: { status: 503, title: "Service unavailable" },
} as const;

export type ProblemCode = keyof typeof problemCodes;

export interface FieldError {
  path: string;
  message: string;
}

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: FieldError[];
}

export class ProblemError extends Error {
  readonly code: ProblemCode;
  readonly errors?: FieldError[];
  readonly extra?: Record<string, unknown>;
  /** Seconds for a Retry-After header (a 503 that will pass). */
  retryAfter?: number;

  constructor(code: ProblemCode, detail: string, errors?: FieldError[], extra?: Record<string, unknown>) {
    super(detail);
    this.name = "ProblemError";
    this.code = code;
    this.errors = errors;
    this.extra = extra;
  }

  get status(): number {
    return problemCodes[this.code].status;
  }

  toBody(): ProblemBody {
    return problemBody(this.code, this.message, this.errors, this.extra);
  }
}

export function problemBody(
  code: ProblemCode,
  detail: string,
  errors?: FieldError[],
  extra?: Record<string, unknown>,
): ProblemBody {
  const { status, title } = problemCodes[code];
  return {
    type: `https://hookline.dev/problems/${code.replaceAll("_", "-")}`,
    title,
    status,
    detail,
    ...(errors && errors.length > 0 ? { errors } : {}),
    ...extra,
  };
}

/** Shorthands used across the faces. */
export const notFound = (what: string) => new ProblemError("not_found", `${what} not found`);
export const invalid = (path: string, message: string) =>
  new ProblemError("validation", `${path}: ${message}`, [{ path, message }]);
