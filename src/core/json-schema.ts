/** Validates event data against an event type's JSON Schema, with a validator that runs in Workers. */
import { Validator } from "@cfworker/json-schema";
import type { FieldError } from "./problem";

const validators = new Map<string, Validator>();

function validatorFor(schema: Record<string, unknown>): Validator {
  const key = JSON.stringify(schema);
  let v = validators.get(key);
  if (!v) {
    if (validators.size > 200) validators.clear();
    v = new Validator(schema as never, "2020-12", false);
    validators.set(key, v);
  }
  return v;
}

/** Problems with `value` under `schema`, each with a JSON-pointer-like path under `prefix`. */
export function schemaErrors(schema: Record<string, unknown>, value: unknown, prefix: string): FieldError[] {
  const result = validatorFor(schema).validate(value);
  if (result.valid) return [];
  // The leaf errors name the offending field; the rest only repeat "a subschema failed".
  const leaves = result.errors.filter((e) => !/subschema|did not match/i.test(e.error));
  return (leaves.length ? leaves : result.errors).slice(0, 10).map((e) => ({
    path: prefix + e.instanceLocation.replace(/^#/, "").replaceAll("/", "."),
    message: e.error,
  }));
}

/** Whether a schema can be compiled at all (an error message when not). */
export function schemaProblem(schema: Record<string, unknown>): string | null {
  try {
    validatorFor(schema).validate(null);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
