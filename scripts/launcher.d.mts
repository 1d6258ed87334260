/** Types of launcher.mjs, for the TypeScript tests and scripts that import it. */
export declare const CONFIG_VARS: readonly string[];
export declare const DEFAULT_PORT: number;
export declare const DEFAULT_STATE_DIR: string;
export declare const DEV_VARS: string;

export interface StartOptions {
  /** Default: PORT or 8787. */
  port?: number;
  /** Local D1, Queues and Durable Objects state. Default: STATE_DIR or .wrangler/state. */
  stateDir?: string;
  /** Worker vars passed as --var; they win over the shell's. */
  vars?: Record<string, string | number | boolean | undefined>;
  /** Read .dev.vars (created from .dev.vars.example when missing). Default: true without `vars`, false with them. */
  devVars?: boolean;
  /** Pass the CONTRACT.md variables set in the shell. Default: true. */
  inheritEnv?: boolean;
  /** Keep wrangler's output to ourselves (still shown when startup fails). */
  quiet?: boolean;
  /** How often to fire the cron sweep; 0 turns it off. Default: 60000. */
  sweepIntervalMs?: number;
  /** How long to wait for GET /health. Default: 60000. */
  readyTimeoutMs?: number;
}

export interface Hookline {
  url: string;
  port: number;
  /** The process group id: the supervisor, wrangler and every workerd. */
  pid: number;
  stateDir: string;
  startupMs: number;
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
export declare function freePort(): Promise<number>;
export declare function isPortFree(port: number): Promise<boolean>;
export declare function waitForPortFree(port: number, timeoutMs?: number): Promise<void>;
export declare function processGroupMembers(pgid: number): number[];
export declare function ensureDevVars(): string;
