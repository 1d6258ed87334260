/** Types of launcher.mjs, for the TypeScript tests and scripts that import it. */
export declare const CONFIG_VARS: readonly string[];
export declare const DEFAULT_PORT: number;
export declare const DEFAULT_STATE_DIR: string;
export declare const DEV_VARS: string;
export declare const WRANGLER_TOML: string;
/** The generated configuration `wrangler dev -c` runs on when SHARDS > 1: .wrangler/generated/wrangler.shards.json. */
export declare const SHARDS_CONFIG: string;
export declare const CONTROL_CONFIG: string;

export interface StartOptions {
  /** Default: PORT or 8787. */
  port?: number;
  /** Local D1, Queues and Durable Objects state. Default: STATE_DIR or .wrangler/state. */
  stateDir?: string;
  /** Worker vars passed as --var; they win over the shell's. */
  vars?: Record<string, string | number | boolean | undefined>;
  /** Read .dev.vars (created from .dev.vars.example when missing). Default: true without `vars`, false with them. */
  devVars?: boolean;
  /** Pass the configuration variables (README "Configuration") set in the shell. Default: true. */
  inheritEnv?: boolean;
  /** Keep wrangler's output to ourselves (still shown when startup fails). */
  quiet?: boolean;
  /** How often to fire the cron sweep; 0 turns it off. Default: 60000. */
  sweepIntervalMs?: number;
  /** How long to wait for GET /health. Default: 60000. */
  readyTimeoutMs?: number;
  /**
   * wrangler's local dev registry directory (WRANGLER_REGISTRY_PATH), where other local
   * Workers find Hookline for their service bindings. Default: the shell's, else wrangler's own.
   */
  devRegistry?: string;
  /**
   * Data shards. Default: vars.SHARDS, else the shell's SHARDS (with inheritEnv), else 1. Above 1 the
   * launcher runs on a generated configuration (SHARDS_CONFIG) with DB_<i> and DELIVERY_QUEUE_<i> for
   * each shard i >= 1, and applies the migrations to every database.
   */
  shards?: number;
  /** The devtools inspector. Default: true; the bench runs without it (launcher.mjs wranglerEnv). */
  inspector?: boolean;
}

export interface Hookline {
  url: string;
  port: number;
  /** The process group id: the supervisor, wrangler and every workerd. */
  pid: number;
  stateDir: string;
  startupMs: number;
  /** The number of data shards it runs. */
  shards: number;
  /** The configuration wrangler runs on: wrangler.toml, or SHARDS_CONFIG when shards > 1. */
  config: string;
  /** Stops the whole process group, waits until the port is free, stops the sweep. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal to the whole group at once (default SIGKILL). */
  kill(signal?: NodeJS.Signals): void;
  /** Fires the cron handler once through /__scheduled; rejects unless it answers 200. */
  sweep(): Promise<number>;
  /** Resolves when the supervisor exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines wrangler printed. */
  output(): string;
}

export declare function startHookline(options?: StartOptions): Promise<Hookline>;

export interface StartWorkerOptions {
  /** The Worker's wrangler.toml, relative to the current directory or absolute. */
  config: string;
  /** Default: a free port. */
  port?: number;
  /** Its local state (--persist-to). Default: a fresh temporary directory, deleted by stop(). */
  stateDir?: string;
  /** Worker vars passed as --var. */
  vars?: Record<string, string | number | boolean | undefined>;
  /** Read the .dev.vars beside its config. Default: false. */
  devVars?: boolean;
  /** wrangler's local dev registry directory (WRANGLER_REGISTRY_PATH): the same as Hookline's to bind to it. */
  devRegistry?: string;
  /** More arguments for `wrangler dev`. */
  args?: string[];
  /** Keep wrangler's output to ourselves (still shown when startup fails). */
  quiet?: boolean;
  /** Polled with GET until it answers anything. Default: "/". */
  readyPath?: string;
  /** A readiness probe instead of readyPath: ready once it resolves true (a string says why not yet). */
  ready?: (url: string) => Promise<boolean | string>;
  /** How long to wait for readiness. Default: 60000. */
  readyTimeoutMs?: number;
  /** The devtools inspector. Default: true. */
  inspector?: boolean;
}

export interface DevWorker {
  url: string;
  port: number;
  /** The process group id: the supervisor, wrangler and every workerd. */
  pid: number;
  stateDir: string;
  startupMs: number;
  /** Stops the whole process group, waits until the port is free, deletes a temporary stateDir. Idempotent. */
  stop(): Promise<void>;
  /** Sends a signal to the whole group at once (default SIGKILL). */
  kill(signal?: NodeJS.Signals): void;
  /** Resolves when the supervisor exits. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The last lines wrangler printed. */
  output(): string;
}

/** Runs another Worker with `wrangler dev -c <config>` under the same supervision as Hookline. */
export declare function startWorker(options: StartWorkerOptions): Promise<DevWorker>;
export declare function freePort(): Promise<number>;
export declare function isPortFree(port: number): Promise<boolean>;
export declare function waitForPortFree(port: number, timeoutMs?: number): Promise<void>;
export declare function processGroupMembers(pgid: number): number[];
export declare function ensureDevVars(): string;
/** SHARDS as a number: an integer from 1 to 1000 ("" and undefined are 1); throws otherwise. */
export declare function parseShards(value: string | number | undefined): number;
/** The local database_id of shard i (00000000-0000-0000-0000-<i, 12 digits>). */
export declare function shardDatabaseId(i: number): string;
/** wrangler.toml (as parsed) plus shards 1..n-1 and vars.SHARDS, relative paths rewritten for `dir`. */
export declare function shardedConfig(config: Record<string, any>, shards: number, options?: { root?: string; dir?: string }): Record<string, any>;
/** Writes SHARDS_CONFIG for `shards` shards (> 1) and CONTROL_CONFIG (each only when it changes). */
export declare function writeShardsConfig(shards: number): Promise<{ path: string; control: string; databases: string[] }>;
