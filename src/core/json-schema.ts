/** Validates event data against an event type's JSON Schema, with a validator that runs in Workers. */
import { Validator } from "@cfworker/json-schema";
import type { FieldError } from "./problem";

const validators = new Map<string, Validator>();

/** A schema as the catalog stores it (JSON text) or as a request carries it. */
export type Schema = string | Record<string, unknown>;

function validatorFor(schema: Schema): Validator {
  const key = typeof schema === "string" ? schema : JSON.stringify(schema);
  let v = validators.get(key);
  if (!v) {
    if (validators.size > 200) validators.clear();
    v = new Validator((typeof schema === "string" ? JSON.parse(schema) : schema) as never, "2020-12", false);
    validators.set(key, v);
  }
  return v;
}

/** Problems with `value` under `schema`, each with a JSON-pointer-like path under `prefix`. */
export function schemaErrors(schema: Schema, value: unknown, prefix: string): FieldError[] {
  let result: ReturnType<Validator["validate"]>;
  try {
    result = validatorFor(schema).validate(value);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    return [{ path: prefix, message: `the event type's schema cannot be applied: ${why}` }];
  }
  if (result.valid) return [];
  // The leaf errors name the offending field; the rest only repeat "a subschema failed".
  const leaves = result.errors.filter((e) => !/subschema|did not match/i.test(e.error));
  return (leaves.length ? leaves : result.errors).slice(0, 10).map((e) => ({
    path: prefix + e.instanceLocation.replace(/^#/, "").replaceAll("/", "."),
    message: e.error,
  }));
}

const JSON_TYPES = new Set(["null", "boolean", "object", "array", "number", "integer", "string"]);

/** The first thing in a schema that would make validation throw or refuse everything. */
function structuralProblem(node: unknown, path: string): string | null {
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) {
      const p = structuralProblem(node[i], `${path}/${i}`);
      if (p) return p;
    }
    return null;
  }
  if (node === null || typeof node !== "object") return null;
  for (const [key, value] of Object.entries(node)) {
    const at = `${path}/${key}`;
    if (key === "pattern" && typeof value === "string" && !compiles(value)) return `${at} is not a valid regular expression`;
    if (key === "patternProperties" && value && typeof value === "object") {
      const bad = Object.keys(value).find((k) => !compiles(k));
      if (bad !== undefined) return `${at} has an invalid regular expression: ${bad}`;
    }
    if (key === "type") {
      const types = Array.isArray(value) ? value : [value];
      if (types.some((t) => typeof t !== "string" || !JSON_TYPES.has(t))) return `${at} must name JSON types`;
    }
    const inner = structuralProblem(value, at);
    if (inner) return inner;
  }
  return null;
}

function compiles(pattern: string): boolean {
  try {
    new RegExp(pattern, "u");
    return true;
  } catch {
    return false;
  }
}

/** Why a schema cannot be used to validate event data, or null when it can. */
export function schemaProblem(schema: Record<string, unknown>): string | null {
  const structural = structuralProblem(schema, "#");
  if (structural) return structural;
  try {
    for (const sample of [null, {}, [], "", 0, true]) validatorFor(schema).validate(sample);
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}
