/// <reference types="node" />
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/**
 * Runs curl with the seed's arguments, then only output flags (they change nothing of the
 * request): -sS for quiet output, -w to learn the status code.
 */
export async function curl(args: string[]) {
  const { stdout } = await run("curl", [...args, "-sS", "-w", "\n%{http_code}"]);
  const cut = stdout.lastIndexOf("\n");
  const text = stdout.slice(0, cut);
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    json = null;
  }
  return { status: Number(stdout.slice(cut + 1)), text, json };
}
