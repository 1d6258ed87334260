/// <reference types="node" />
/**
 * What every command's action shares: the global options, the connection they lead to,
 * one way to fail (a message on stderr, exit code 1), and one way to show an answer
 * (the API's JSON with --json, else a table or key/value block for people).
 */
import type { Command } from "commander";
import type { HooklineClient } from "../../client/index";
import { type Api, connect } from "../api";
import { resolveConfig } from "../config";
import { CliError, type Column, colorEnabled, dim, keyValues, notice, printError, printJson, table, write } from "../output";

export interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

export const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
export const apiFor = (cmd: Command): Api => connect(resolveConfig(globals(cmd)));
export const wantsJson = (cmd: Command) => globals(cmd).json === true;

/** Wraps an action: any failure is one message on stderr and exit code 1 (never a stack trace). */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      printError(err);
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    }
  };
}

type TypedCall<T> = Promise<{ data?: T; error?: unknown; response: Response }>;

/** One typed /v1 call with the command's url and key: its data, or a thrown error. */
export function request<T>(cmd: Command, send: (client: HooklineClient) => TypedCall<T>): Promise<T> {
  const api = apiFor(cmd);
  return api.call(send(api.client));
}

/** The API's JSON with --json; otherwise `human` shows it for people. */
export function present<T>(cmd: Command, value: T, human: (value: T) => void): void {
  if (wantsJson(cmd)) printJson(value);
  else human(value);
}

/** One resource: its JSON, or `key  value` lines. */
export function printOne(cmd: Command, value: unknown): void {
  present(cmd, value, (v) => write(keyValues(v as Record<string, unknown>)));
}

/** A page of a list: its JSON, or a table with the next page's cursor on stderr. */
export function printPage<T>(cmd: Command, page: { data: T[]; next_cursor: string | null }, columns: Column<T>[], empty: string): void {
  present(cmd, page, () => {
    if (page.data.length === 0) return notice(empty);
    write(table(page.data, columns));
    if (page.next_cursor) notice(dim(colorEnabled(process.stderr), `more: --cursor ${page.next_cursor}`));
  });
}

/** Call, then print the one resource it answers. */
export async function showOne<T>(cmd: Command, send: (client: HooklineClient) => TypedCall<T>): Promise<T> {
  const value = await request(cmd, send);
  printOne(cmd, value);
  return value;
}

/** Call, then print the page it answers. */
export async function showPage<T>(
  cmd: Command,
  send: (client: HooklineClient) => TypedCall<{ data: T[]; next_cursor: string | null }>,
  columns: Column<T>[],
  empty: string,
): Promise<void> {
  printPage(cmd, await request(cmd, send), columns, empty);
}
