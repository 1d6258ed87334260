/// <reference types="node" />
/** Parsers for option values, shared by the commands; a bad value is a CliError (exit code 1). */
import { readFileSync } from "node:fs";
import { CliError } from "../output";

export const FORMATS = ["standard", "clara", "clarife", "smartshape"] as const;
export type FormatName = (typeof FORMATS)[number];
export const DELIVERY_STATUSES = ["pending", "in_flight", "delivered", "failed", "skipped"] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

/** A repeatable option: each use adds one value. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** A repeatable `name=value` option, gathered into one record. */
export function keyValue(value: string, previous: Record<string, string> = {}) {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new CliError(`expected name=value, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new CliError(`expected a positive integer, got "${value}"`);
  return n;
}

/** An ISO 8601 time, or a duration ago: 90s, 30m, 2h, 7d. */
export function parseSince(value: string, now = Date.now()): string {
  const ago = /^(\d+)([smhd])$/.exec(value.trim());
  if (ago) {
    const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[ago[2] as "s" | "m" | "h" | "d"];
    return new Date(now - Number(ago[1]) * unit).toISOString();
  }
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new CliError(`expected an ISO 8601 time or a duration such as 2h, got "${value}"`);
  return new Date(t).toISOString();
}

/** --data: JSON text, `@file`, or `@-` for stdin. */
export function readData(value: string): unknown {
  let text = value;
  if (value.startsWith("@")) {
    const path = value.slice(1);
    try {
      text = readFileSync(path === "-" ? 0 : path, "utf8");
    } catch (err) {
      throw new CliError(`cannot read --data ${value}: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CliError(`--data is not valid JSON: ${(err as Error).message}`);
  }
}
