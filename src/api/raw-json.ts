/**
 * JSON answers that carry stored JSON text as it is. The event log and the catalog keep
 * `data`, `schema` and `example` as normalized JSON text; splicing that text into the
 * answer instead of parsing and re-serializing it costs nothing per byte, and a value
 * stored before depth limits existed (or written by hand) cannot overflow the stack
 * of a recursive JSON.stringify.
 */
import type { Context, TypedResponse } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { JSONParsed } from "hono/utils/types";

/** Stored JSON text, to be sent as the JSON value it already is. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** `raw(text)` typed as the value it holds, for serializers whose schema names that type. */
export const raw = <T = unknown>(text: string | null): T => (text === null ? null : new RawJson(text)) as T;

/** `c.json` for bodies holding RawJson values: each is written verbatim in its place. */
export function jsonWithRaw<T, S extends ContentfulStatusCode>(c: Context, body: T, status: S): TypedResponse<JSONParsed<T>, S, "json"> {
  const texts: string[] = [];
  // A per-answer nonce: no string inside the body can forge a placeholder.
  const mark = `raw-${crypto.randomUUID()}-`;
  const skeleton = JSON.stringify(body, (_key, value: unknown) =>
    value instanceof RawJson ? mark + (texts.push(value.text) - 1) : value,
  );
  const text = texts.length ? skeleton.replace(new RegExp(`"${mark}(\\d+)"`, "g"), (_m, i: string) => texts[Number(i)]) : skeleton;
  return c.body(text, status, { "content-type": "application/json" }) as unknown as TypedResponse<JSONParsed<T>, S, "json">;
}
