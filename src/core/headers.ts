/** Rules for a subscription's custom headers: valid names, no control characters, no overrides. */
import { formats, transportHeaders } from "./formats";
import type { FieldError } from "./problem";

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/;

const reserved = new Set<string>([
  ...transportHeaders,
  ...Object.values(formats).flatMap((f) => f.reservedHeaders),
]);

export const MAX_CUSTOM_HEADERS = 20;

export function customHeaderErrors(headers: Record<string, string>): FieldError[] {
  const errors: FieldError[] = [];
  const names = Object.keys(headers);
  if (names.length > MAX_CUSTOM_HEADERS) {
    errors.push({ path: "headers", message: `at most ${MAX_CUSTOM_HEADERS} headers` });
  }
  for (const name of names) {
    const path = `headers.${name}`;
    const lower = name.toLowerCase();
    if (!TOKEN.test(name)) errors.push({ path, message: "not a valid header name" });
    else if (reserved.has(lower) || lower.startsWith("webhook-") || lower.startsWith("cf-")) {
      errors.push({ path, message: "set by Hookline itself: it cannot be overridden" });
    }
    if (CONTROL.test(headers[name])) errors.push({ path, message: "value contains control characters" });
  }
  return errors;
}
