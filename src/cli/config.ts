/// <reference types="node" />
/**
 * Where the CLI finds the service and the key: `--url` / `--api-key`, else HOOKLINE_URL /
 * HOOKLINE_API_KEY, else the file `hookline login` wrote ($XDG_CONFIG_HOME or ~/.config,
 * then hookline/config.json, mode 0600). The url defaults to http://127.0.0.1:8787.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { CliError } from "./output";

export const DEFAULT_URL = "http://127.0.0.1:8787";

export interface StoredConfig {
  url?: string;
  api_key?: string;
}

export interface ResolvedConfig {
  url: string;
  apiKey: string | undefined;
  /** Where each value came from, for error messages. */
  source: { url: "flag" | "env" | "file" | "default"; apiKey: "flag" | "env" | "file" | "none" };
}

export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME && env.XDG_CONFIG_HOME.startsWith("/") ? env.XDG_CONFIG_HOME : join(homedir(), ".config");
  return join(base, "hookline", "config.json");
}

export function readStoredConfig(path = configPath()): StoredConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return {};
    throw new CliError(`cannot read ${path}: ${(err as Error).message}`);
  }
  try {
    const parsed = JSON.parse(text);
    return typeof parsed === "object" && parsed !== null ? parsed : {};
  } catch {
    throw new CliError(`${path} is not valid JSON: run \`hookline login\` again`);
  }
}

/** Writes the file with mode 0600 (its folder 0700), replacing it atomically. */
export function writeStoredConfig(config: StoredConfig, path = configPath()): string {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600); // whatever the umask
  renameSync(tmp, path);
  return path;
}

export function normalizeUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new CliError(`--url must be an http(s) url, got "${raw}"`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new CliError(`--url must be http or https, got "${raw}"`);
  return url.href.replace(/\/+$/, "");
}

/** The first value given, by precedence: flag > environment > config file. */
function firstSet(flag?: string, fromEnv?: string, fromFile?: string) {
  if (flag) return [flag, "flag" as const] as const;
  if (fromEnv) return [fromEnv, "env" as const] as const;
  if (fromFile) return [fromFile, "file" as const] as const;
  return undefined;
}

export function resolveConfig(flags: { url?: string; apiKey?: string }, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const needFile = !(flags.url || env.HOOKLINE_URL) || !(flags.apiKey || env.HOOKLINE_API_KEY);
  const stored = needFile ? readStoredConfig(configPath(env)) : {};
  const [url, urlSource] = firstSet(flags.url, env.HOOKLINE_URL, stored.url) ?? [DEFAULT_URL, "default" as const];
  const [apiKey, keySource] = firstSet(flags.apiKey, env.HOOKLINE_API_KEY, stored.api_key) ?? [undefined, "none" as const];
  return { url: normalizeUrl(url), apiKey, source: { url: urlSource, apiKey: keySource } };
}

export function requireKey(config: ResolvedConfig): string {
  if (!config.apiKey) {
    throw new CliError("no API key: pass --api-key, set HOOKLINE_API_KEY, or run `hookline login --url URL --api-key KEY`");
  }
  return config.apiKey;
}
