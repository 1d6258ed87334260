/** Cursor pagination over (created_at, id), newest first. */
import { and, desc, eq, lt, or, type SQL } from "drizzle-orm";
import type { SQLiteColumn } from "drizzle-orm/sqlite-core";
import { fromBase64Url, toBase64Url, utf8 } from "../core/encoding";
import { ProblemError } from "../core/problem";

export interface Page {
  limit: number;
  cursor?: string;
}

interface CursorValue {
  createdAt: number;
  id: string;
}

export function encodeCursor(row: CursorValue): string {
  return toBase64Url(utf8(JSON.stringify([row.createdAt, row.id])));
}

export function decodeCursor(cursor: string): CursorValue {
  try {
    const [createdAt, id] = JSON.parse(new TextDecoder().decode(fromBase64Url(cursor)));
    if (typeof createdAt === "number" && typeof id === "string") return { createdAt, id };
  } catch {
    // fall through to the problem below
  }
  throw new ProblemError("validation", "cursor is not one this API returned", [
    { path: "cursor", message: "invalid cursor" },
  ]);
}

export function afterCursor(createdAt: SQLiteColumn, id: SQLiteColumn, cursor?: string): SQL | undefined {
  if (!cursor) return undefined;
  const c = decodeCursor(cursor);
  return or(lt(createdAt, c.createdAt), and(eq(createdAt, c.createdAt), lt(id, c.id)));
}

export const newestFirst = (createdAt: SQLiteColumn, id: SQLiteColumn) => [desc(createdAt), desc(id)];

/** Fetch limit + 1 rows, return a page and the cursor of its last row when more remain. */
export function toPage<T extends CursorValue>(rows: T[], limit: number): { rows: T[]; nextCursor: string | null } {
  if (rows.length <= limit) return { rows, nextCursor: null };
  const page = rows.slice(0, limit);
  return { rows: page, nextCursor: encodeCursor(page[page.length - 1]) };
}
