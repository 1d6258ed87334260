/**
 * Event ids as the log stores them: the 16 bytes of the UUID (a blob), not the 40-character
 * text `evt_` + UUID that the API shows. An event id is stored three times per delivery of a
 * one-subscription event (the event's row, its `events_account` entry, the delivery's
 * `event_id`): 72 bytes fewer per delivery, before the pages' slack (migration 0017).
 *
 * drizzle's query builder converts both ways through the column type `eventKey` (src/db/schema.ts);
 * hand-written SQL converts with `eventKeySql` (text to key) and `eventIdSql` (key to text).
 * A value that is not a well-formed event id has no key: it stays text, which no key matches (a
 * text id left by a hand-made row before the migration stays as it was, and reads back as itself).
 */
import { customType } from "drizzle-orm/sqlite-core";
import { type SQL, sql } from "drizzle-orm";
import { idPrefixes } from "../core/ids";

const PREFIX = idPrefixes.event;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** An event id's key (its 16 bytes), or the text itself when it is no event id (it then matches no key). */
export function eventKeyOf(id: string): Uint8Array | string {
  const uuid = id.slice(PREFIX.length);
  if (!id.startsWith(PREFIX) || !UUID.test(uuid)) return id;
  const hex = uuid.replaceAll("-", "");
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return bytes;
}

/** A stored key (D1 returns a blob as an array of bytes) as its event id; a text one as itself. */
export function eventIdOfKey(key: unknown): string {
  if (typeof key === "string") return key;
  const bytes = key instanceof ArrayBuffer ? new Uint8Array(key) : (key as ArrayLike<number>);
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += bytes[i]!.toString(16).padStart(2, "0");
  return `${PREFIX}${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The column type of a stored event id: text in JavaScript, its key in D1. */
export const eventKey = customType<{ data: string; driverData: Uint8Array | string }>({
  dataType: () => "blob",
  toDriver: (id) => eventKeyOf(id),
  fromDriver: (key) => eventIdOfKey(key),
});

/** In SQL: the key of the event id `text` (the text itself, which no key matches, when it is no event id). */
export const eventKeySql = (text: SQL) =>
  sql`CASE WHEN length(${text}) = 40 AND substr(${text}, 1, 4) = ${PREFIX}
    THEN coalesce(unhex(replace(substr(${text}, 5), '-', '')), ${text}) ELSE ${text} END`;

/** In SQL: a stored key `key` as its event id (a text one as itself). */
export const eventIdSql = (key: SQL) => {
  const hex = sql`lower(hex(${key}))`;
  return sql`CASE WHEN typeof(${key}) = 'blob' THEN ${PREFIX} || substr(${hex}, 1, 8) || '-' || substr(${hex}, 9, 4) || '-'
    || substr(${hex}, 13, 4) || '-' || substr(${hex}, 17, 4) || '-' || substr(${hex}, 21) ELSE ${key} END`;
};
