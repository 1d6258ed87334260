/**
 * What the seed systems' faces share: reading a body the way their clients send it.
 * JSON, x-www-form-urlencoded (`statuses[]=ok`), multipart/form-data and Clara's own
 * "application/form-data" all become one plain object.
 */
import type { Context } from "hono";
import { ProblemError } from "../core/problem";

export type FormValue = string | string[];

/** JSON.parse with the parser's own words (they say where the JSON broke) in a 400. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    throw new ProblemError("invalid_json", `the body is not valid JSON: ${why}`);
  }
}

/** More fields than any hook has: a form past it is refused before it costs anything. */
export const MAX_FORM_FIELDS = 1000;

/** Form entries as one object; repeated keys (and `key[]`) become lists, appended in place (linear). */
function collect(entries: Iterable<[string, File | string]>): Record<string, FormValue> {
  const fields = new Map<string, FormValue>();
  let count = 0;
  for (const [rawKey, raw] of entries) {
    if (++count > MAX_FORM_FIELDS) {
      throw new ProblemError("validation", `the form has more than ${MAX_FORM_FIELDS} fields`, [
        { path: "(body)", message: `at most ${MAX_FORM_FIELDS} fields` },
      ]);
    }
    const value = typeof raw === "string" ? raw : raw.name;
    const isArray = rawKey.endsWith("[]");
    const key = isArray ? rawKey.slice(0, -2) : rawKey;
    const current = fields.get(key);
    if (current === undefined) fields.set(key, isArray ? [value] : value);
    else if (Array.isArray(current)) current.push(value);
    else fields.set(key, [current, value]);
  }
  // fromEntries defines own properties: a field named __proto__ stays a field.
  return Object.fromEntries(fields);
}

/** The body as UTF-8 text, whatever its Content-Type claims. */
export const bodyText = async (c: Context) => new TextDecoder().decode(await c.req.arrayBuffer());

/** Reads a JSON or form body, whichever the Content-Type says (a missing one is sniffed). */
export async function readJsonOrForm(c: Context): Promise<unknown> {
  const contentType = c.req.header("content-type") ?? "";
  const mediaType = contentType.split(";")[0].trim().toLowerCase();
  if (mediaType === "multipart/form-data" || (mediaType === "application/form-data" && /boundary=/i.test(contentType))) {
    let form: FormData;
    try {
      form = await new Request("http://body/", {
        method: "POST",
        headers: { "content-type": contentType.replace(/^application\/form-data/i, "multipart/form-data") },
        body: await c.req.arrayBuffer(),
      }).formData();
    } catch (err) {
      throw new ProblemError("bad_request", `the multipart body could not be read: ${err instanceof Error ? err.message : err}`);
    }
    return collect(form.entries());
  }
  const text = await bodyText(c);
  if (/^application\/([\w.-]+\+)?json$/.test(mediaType) || (!mediaType && text.trimStart().startsWith("{"))) {
    return parseJson(text);
  }
  if (mediaType === "application/x-www-form-urlencoded" || mediaType === "application/form-data" || !mediaType) {
    return collect(new URLSearchParams(text).entries());
  }
  throw new ProblemError(
    "unsupported_media_type",
    `send the body as application/json, application/x-www-form-urlencoded or multipart/form-data (got ${mediaType.slice(0, 100)})`,
  );
}

/** Form values are strings: "true"/"false" (and 1/0, on/off) become booleans, a lone value a list. */
export const formBoolean = (v: unknown) =>
  typeof v === "string" ? ({ true: true, "1": true, on: true, false: false, "0": false, off: false } as Record<string, boolean>)[v.toLowerCase()] ?? v : v;

export const formList = (v: unknown) => (typeof v === "string" ? [v] : v);
