/// <reference types="node" />
/**
 * What the CLI prints: tables and key/value blocks for people, the API's JSON with --json,
 * errors as one readable message on stderr (a problem's title and detail, never a stack).
 * Colour only on a terminal and when NO_COLOR is unset (https://no-color.org).
 */
import { HooklineApiError } from "../client/index";

/** A failure the CLI explains itself; `exitCode` is what the process ends with. */
export class CliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = "CliError";
    this.exitCode = exitCode;
  }
}

export function colorEnabled(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.TERM === "dumb") return false;
  return stream.isTTY === true;
}

const paint = (code: number, close: number) => (on: boolean, text: string) => (on ? `\u001b[${code}m${text}\u001b[${close}m` : text);
export const bold = paint(1, 22);
export const dim = paint(2, 22);
export const red = paint(31, 39);
export const green = paint(32, 39);
export const yellow = paint(33, 39);

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
  /** Cells longer than this are cut with an ellipsis on a terminal. */
  max?: number;
  color?: (row: T, on: boolean, text: string) => string;
}

export function cell(value: unknown): string {
  if (value === null || value === undefined) return "-";
  if (Array.isArray(value)) return value.length ? value.map(cell).join(",") : "-";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

const cut = (text: string, max: number | undefined) => (max && text.length > max ? text.slice(0, max - 1) + "…" : text);

export function table<T>(rows: T[], columns: Column<T>[], out: NodeJS.WriteStream = process.stdout): string {
  const on = colorEnabled(out);
  const tty = out.isTTY === true;
  const texts = rows.map((row) => columns.map((c) => (tty ? cut(cell(c.value(row)), c.max) : cell(c.value(row)))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...texts.map((t) => t[i].length)));
  const line = (cells: string[], style: (i: number, text: string) => string) =>
    cells
      .map((text, i) => (i === cells.length - 1 ? style(i, text) : style(i, text) + " ".repeat(widths[i] - text.length)))
      .join("  ")
      .trimEnd();
  const lines = [line(columns.map((c) => c.header.toUpperCase()), (_i, t) => bold(on, t))];
  texts.forEach((t, r) => lines.push(line(t, (i, text) => columns[i].color?.(rows[r], on, text) ?? text)));
  return lines.join("\n") + "\n";
}

/** One resource as `key  value` lines. */
export function keyValues(value: Record<string, unknown>, out: NodeJS.WriteStream = process.stdout): string {
  const on = colorEnabled(out);
  const keys = Object.keys(value);
  const width = Math.max(0, ...keys.map((k) => k.length));
  return keys.map((k) => `${bold(on, k)}${" ".repeat(width - k.length)}  ${cell(value[k])}`).join("\n") + "\n";
}

/**
 * A closed stdout (`| head -1`) is EPIPE on the next write: by default the CLI just ends
 * (exit 0, as if it had been told to stop); `webhook listen` takes it over to clean up first.
 */
let stdoutClosed: () => void = () => process.exit(0);
export function onStdoutClosed(handler: () => void): void {
  stdoutClosed = handler;
}
export function watchStdout(): void {
  process.stderr.on("error", () => {}); // nowhere left to tell anything
  process.stdout.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") stdoutClosed();
    else {
      process.stderr.write(`error: cannot write to stdout: ${err.message}\n`);
      process.exit(1);
    }
  });
}

export function write(text: string): void {
  process.stdout.write(text);
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value ?? null, null, 2) + "\n");
}

export function notice(text: string): void {
  process.stderr.write(text.endsWith("\n") ? text : text + "\n");
}

/** The message for any failure, without a stack trace. */
export function errorMessage(err: unknown): string {
  if (err instanceof HooklineApiError) {
    const p = err.problem;
    if (!p) return `HTTP ${err.status}${err.message.startsWith("HTTP") ? err.message.slice(`HTTP ${err.status}`.length) : `: ${err.message}`}`;
    const lines = [`${p.title} (${p.status})${p.detail ? `: ${p.detail}` : ""}`];
    for (const e of p.errors ?? []) if (!p.detail?.includes(e.message)) lines.push(`  ${e.path}: ${e.message}`);
    return lines.join("\n");
  }
  if (err instanceof CliError) return err.message;
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    if (err.name === "TypeError" && err.message === "fetch failed") {
      return `cannot reach the service: ${cause?.code ?? cause?.message ?? "network error"}`;
    }
    if (err.name === "TimeoutError" || err.name === "AbortError") return "the service did not answer in time";
    return err.message;
  }
  return String(err);
}

export function printError(err: unknown): void {
  const on = colorEnabled(process.stderr);
  process.stderr.write(`${red(on, "error:")} ${errorMessage(err)}\n`);
}
