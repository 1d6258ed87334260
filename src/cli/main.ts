/// <reference types="node" />
/**
 * `hookline`, Hookline's command line (also installed as `smartshape-cli`, so the SmartShape
 * seed's `webhook create|list|delete|listen` commands and scripts run unchanged).
 * Built by scripts/build.mjs into dist/cli.js, the package's two bins.
 */
import { Command, CommanderError, Option } from "commander";
import { readFileSync, rmSync } from "node:fs";
import { basename } from "node:path";
import type { components } from "../client/schema";
import { type Api, connect } from "./api";
import { configPath, normalizeUrl, resolveConfig, writeStoredConfig } from "./config";
import { listen } from "./listen";
import {
  CliError,
  type Column,
  colorEnabled,
  dim,
  green,
  keyValues,
  notice,
  printError,
  printJson,
  red,
  table,
  watchStdout,
  write,
  yellow,
} from "./output";
import { VERSION } from "./version";

type S = components["schemas"];
type Subscription = S["Subscription"];
type Delivery = S["Delivery"];

const FORMATS = ["standard", "clara", "clarife", "smartshape"] as const;
type FormatName = (typeof FORMATS)[number];
const DELIVERY_STATUSES = ["pending", "in_flight", "delivered", "failed", "skipped"] as const;

interface GlobalOptions {
  url?: string;
  apiKey?: string;
  json?: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function keyValue(value: string, previous: Record<string, string> = {}) {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new CliError(`expected name=value, got "${value}"`);
  return { ...previous, [value.slice(0, eq)]: value.slice(eq + 1) };
}

function positiveInt(value: string): number {
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

const globals = (cmd: Command) => cmd.optsWithGlobals<GlobalOptions>();
const apiFor = (cmd: Command): Api => connect(resolveConfig(globals(cmd)));
const wantsJson = (cmd: Command) => globals(cmd).json === true;

/** Wraps an action: any failure is one message on stderr and exit code 1 (never a stack trace). */
function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void) {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (err) {
      printError(err);
      process.exitCode = err instanceof CliError ? err.exitCode : 1;
    }
  };
}

// ---- rendering ----

const subscriptionColumns: Column<Subscription>[] = [
  { header: "id", value: (s) => s.id },
  { header: "format", value: (s) => s.format },
  { header: "events", value: (s) => s.event_types, max: 40 },
  { header: "url", value: (s) => s.url, max: 60 },
  {
    header: "active",
    value: (s) => (s.active ? "yes" : "no"),
    color: (s, c, text) => (s.active ? green(c, text) : red(c, text)),
  },
  { header: "failures", value: (s) => s.consecutive_failures },
];

const statusColor = (status: string, c: boolean, text: string) =>
  status === "delivered" || status === "success" ? green(c, text) : status === "failed" ? red(c, text) : status === "pending" || status === "in_flight" ? yellow(c, text) : text;

const deliveryColumns: Column<Delivery>[] = [
  { header: "id", value: (d) => d.id },
  { header: "status", value: (d) => d.status, color: (d, c, t) => statusColor(d.status, c, t) },
  { header: "attempts", value: (d) => d.attempts_count },
  { header: "event", value: (d) => d.event_id },
  { header: "subscription", value: (d) => d.subscription_id },
  { header: "created", value: (d) => d.created_at },
];

function printPage<T>(cmd: Command, page: { data: T[]; next_cursor: string | null }, columns: Column<T>[], empty: string) {
  if (wantsJson(cmd)) return printJson(page);
  if (page.data.length === 0) return notice(empty);
  write(table(page.data, columns));
  if (page.next_cursor) notice(dim(colorEnabled(process.stderr), `more: --cursor ${page.next_cursor}`));
}

function printOne(cmd: Command, value: unknown) {
  if (wantsJson(cmd)) return printJson(value);
  write(keyValues(value as Record<string, unknown>));
}

// ---- the program ----

export function buildProgram(invokedAs: string): Command {
  const name = invokedAs === "smartshape-cli" ? "smartshape-cli" : "hookline";
  const program = new Command(name);
  program
    .description(
      name === "smartshape-cli"
        ? "Hookline's CLI, installed as smartshape-cli: the SmartShape seed's `webhook create|list|delete|listen` commands work unchanged against Hookline (the same program as `hookline`)."
        : "Hookline's command line: subscriptions, events and deliveries, and `webhook listen` to receive webhooks locally without a tunnel.",
    )
    .version(VERSION, "-V, --version")
    .option("--url <url>", "the service's url (or HOOKLINE_URL, or `login`; default http://127.0.0.1:8787)")
    .option("--api-key <key>", "an account's API key, or the operator's ADMIN_TOKEN (or HOOKLINE_API_KEY, or `login`)")
    .option("--json", "print the API's JSON instead of a table")
    .showHelpAfterError("(add --help for usage)")
    .addHelpText(
      "after",
      `
Configuration: a flag wins over HOOKLINE_URL / HOOKLINE_API_KEY, which win over ${configPath()}
(written by \`${name} login\`). Exit code 0 on success, 1 on any failure.`,
    );

  program
    .command("login")
    .description(`check a url and key and store them in ${configPath()} (mode 0600)`)
    .option("--no-verify", "store them without calling the service")
    .action(
      action(async (options: { verify: boolean }, cmd: Command) => {
        const g = globals(cmd);
        const resolved = resolveConfig(g);
        if (!resolved.apiKey) throw new CliError("give the key: login --url URL --api-key KEY");
        let who = "";
        if (options.verify) {
          const api = connect(resolved);
          const { data, error, response } = await api.client.GET("/v1/account");
          if (response.ok && data) who = ` as account ${data.name} (${data.id})`;
          else if (response.status === 403) who = " as the operator";
          else await api.call(Promise.resolve({ data, error, response }));
        }
        const path = writeStoredConfig({ url: normalizeUrl(resolved.url), api_key: resolved.apiKey });
        if (wantsJson(cmd)) printJson({ url: resolved.url, config_path: path });
        else notice(`logged in to ${resolved.url}${who}; saved to ${path}`);
      }),
    );

  program
    .command("logout")
    .description(`delete ${configPath()}`)
    .action(
      action(() => {
        rmSync(configPath(), { force: true });
        notice(`removed ${configPath()}`);
      }),
    );

  // ---- the SmartShape seed's commands, through its face (/webhook/) ----
  const webhook = program.command("webhook").description("SmartShape webhooks (the seed's commands), and `listen`");

  webhook
    .command("create")
    .description("create a webhook for one event (SmartShape format: the token is checked with bcrypt by the receiver)")
    .argument("<url>", "the endpoint")
    .argument("<event>", "a SmartShape event, e.g. attribute_updated")
    .argument("<secret>", "the secret token (the receiver checks x-smartshape-token against it)")
    .action(
      action(async (url: string, event: string, secret: string, _o: unknown, cmd: Command) => {
        const hook = await apiFor(cmd).raw("PUT", "/webhook/", { event, url, secretToken: secret });
        printOne(cmd, hook);
      }),
    );

  webhook
    .command("list")
    .description("list the SmartShape webhooks")
    .action(
      action(async (_o: unknown, cmd: Command) => {
        const hooks = (await apiFor(cmd).raw("GET", "/webhook/")) as Array<{ _id: string; event: string; url: string }>;
        if (wantsJson(cmd)) return printJson(hooks);
        if (hooks.length === 0) return notice("no webhooks");
        write(
          table(hooks, [
            { header: "_id", value: (h) => h._id },
            { header: "event", value: (h) => h.event },
            { header: "url", value: (h) => h.url },
          ]),
        );
      }),
    );

  webhook
    .command("delete")
    .description("delete a SmartShape webhook")
    .argument("<id>", "its _id")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const hook = await apiFor(cmd).raw("DELETE", `/webhook/${encodeURIComponent(id)}`);
        if (wantsJson(cmd)) return printJson(hook);
        notice(`deleted ${id}`);
      }),
    );

  webhook
    .command("listen")
    .description(
      "receive events here, without a public url: prints each payload as one JSON line on stdout (notices on stderr), " +
        "or POSTs it to --forward-to; its temporary webhooks are deleted on exit",
    )
    .requiredOption("--event <type>", "an event type or pattern to listen to (repeat for more)", collect)
    .addOption(new Option("--format <format>", "the payload's format").choices(FORMATS).default("smartshape"))
    .option("--subject <id>", "only events about this resource (repeat for more)", collect)
    .option("--forward-to <url>", "POST each delivery (body and headers) to this local url; its answer decides success")
    .action(
      action(async (options: { event: string[]; format: FormatName; subject?: string[]; forwardTo?: string }, cmd: Command) => {
        if (options.forwardTo) {
          try {
            const u = new URL(options.forwardTo);
            if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
          } catch {
            throw new CliError(`--forward-to must be an http(s) url, got "${options.forwardTo}"`);
          }
        }
        const code = await listen(apiFor(cmd), {
          events: options.event,
          format: options.format,
          subjects: options.subject,
          forwardTo: options.forwardTo,
        });
        process.exitCode = code;
        // Everything is closed; leave now rather than wait for idle keep-alive sockets.
        setImmediate(() => process.exit(code));
      }),
    );

  // ---- /v1 ----
  const subs = program.command("subscriptions").alias("subs").description("the account's subscriptions (/v1/subscriptions)");

  subs
    .command("list")
    .description("list subscriptions, newest first")
    .option("--limit <n>", "how many (1-100)", positiveInt)
    .option("--cursor <cursor>", "the next page (printed after a full page)")
    .action(
      action(async (o: { limit?: number; cursor?: string }, cmd: Command) => {
        const api = apiFor(cmd);
        const page = await api.call(api.client.GET("/v1/subscriptions", { params: { query: { limit: o.limit, cursor: o.cursor } } }));
        printPage(cmd, page, subscriptionColumns, "no subscriptions");
      }),
    );

  subs
    .command("get")
    .description("show a subscription")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const api = apiFor(cmd);
        printOne(cmd, await api.call(api.client.GET("/v1/subscriptions/{id}", { params: { path: { id } } })));
      }),
    );

  subs
    .command("create")
    .description("create a subscription; prints its signing secret (shown again only by `secret`)")
    .argument("<url>", "the endpoint")
    .requiredOption("--event <type>", "an event type, a prefix like document.*, or * (repeat for more)", collect)
    .addOption(new Option("--format <format>", "the wire format").choices(FORMATS))
    .option("--subject <id>", "only events about this resource (repeat for more)", collect)
    .option("--description <text>")
    .option("--secret <secret>", "the signing secret (default: generated; smartshape needs one)")
    .option("--header <name=value>", "a header sent with every delivery (repeat for more)", keyValue)
    .option("--metadata <name=value>", "metadata kept with it (repeat for more)", keyValue)
    .option("--inactive", "create it switched off")
    .action(
      action(
        async (
          url: string,
          o: {
            event: string[];
            format?: FormatName;
            subject?: string[];
            description?: string;
            secret?: string;
            header?: Record<string, string>;
            metadata?: Record<string, string>;
            inactive?: boolean;
          },
          cmd: Command,
        ) => {
          const api = apiFor(cmd);
          const created = await api.call(
            api.client.POST("/v1/subscriptions", {
              body: {
                url,
                event_types: o.event,
                format: o.format,
                subjects: o.subject,
                description: o.description,
                secret: o.secret,
                headers: o.header,
                metadata: o.metadata,
                active: o.inactive ? false : undefined,
              },
            }),
          );
          printOne(cmd, created);
        },
      ),
    );

  subs
    .command("update")
    .description("change a subscription (only the fields given)")
    .argument("<id>")
    .option("--endpoint <url>", "a new endpoint url")
    .option("--event <type>", "replace the event types (repeat for more)", collect)
    .addOption(new Option("--format <format>", "a new wire format").choices(FORMATS))
    .option("--subject <id>", "replace the subjects (repeat for more)", collect)
    .option("--all-subjects", "drop the subject filter")
    .option("--description <text>")
    .option("--secret <secret>", "a new secret")
    .option("--header <name=value>", "replace the headers (repeat for more)", keyValue)
    .option("--metadata <name=value>", "replace the metadata (repeat for more)", keyValue)
    .option("--enable", "switch it on (also clears a disabled state)")
    .option("--disable", "switch it off")
    .action(
      action(
        async (
          id: string,
          o: {
            endpoint?: string;
            event?: string[];
            format?: FormatName;
            subject?: string[];
            allSubjects?: boolean;
            description?: string;
            secret?: string;
            header?: Record<string, string>;
            metadata?: Record<string, string>;
            enable?: boolean;
            disable?: boolean;
          },
          cmd: Command,
        ) => {
          if (o.enable && o.disable) throw new CliError("--enable and --disable together");
          if (o.subject && o.allSubjects) throw new CliError("--subject and --all-subjects together");
          const body = {
            url: o.endpoint,
            event_types: o.event,
            format: o.format,
            subjects: o.allSubjects ? null : o.subject,
            description: o.description,
            secret: o.secret,
            headers: o.header,
            metadata: o.metadata,
            active: o.enable ? true : o.disable ? false : undefined,
          };
          if (Object.values(body).every((v) => v === undefined)) throw new CliError("nothing to change: give at least one option (--help)");
          const api = apiFor(cmd);
          printOne(cmd, await api.call(api.client.PATCH("/v1/subscriptions/{id}", { params: { path: { id } }, body })));
        },
      ),
    );

  subs
    .command("delete")
    .description("delete a subscription (its delivery log stays)")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const api = apiFor(cmd);
        await api.call(api.client.DELETE("/v1/subscriptions/{id}", { params: { path: { id } } }));
        if (wantsJson(cmd)) return printJson({ id, deleted: true });
        notice(`deleted ${id}`);
      }),
    );

  subs
    .command("secret")
    .description("show the signing secret")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const api = apiFor(cmd);
        printOne(cmd, await api.call(api.client.GET("/v1/subscriptions/{id}/secret", { params: { path: { id } } })));
      }),
    );

  subs
    .command("test")
    .description("send a test event now and show the endpoint's answer (exit code 1 when it is not a success)")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const api = apiFor(cmd);
        const result = await api.call(api.client.POST("/v1/subscriptions/{id}/test", { params: { path: { id } } }));
        printOne(cmd, result);
        if (!result.success) process.exitCode = 1;
      }),
    );

  subs
    .command("rotate-secret")
    .description("replace the signing secret (standard keeps signing with the old one too for 24 h)")
    .argument("<id>")
    .option("--secret <secret>", "the new secret (default: generated)")
    .action(
      action(async (id: string, o: { secret?: string }, cmd: Command) => {
        const api = apiFor(cmd);
        const body = o.secret === undefined ? {} : { secret: o.secret };
        printOne(cmd, await api.call(api.client.POST("/v1/subscriptions/{id}/rotate-secret", { params: { path: { id } }, body })));
      }),
    );

  subs
    .command("recover")
    .description("redeliver every failed or skipped delivery since a time (at most 1,000 a call)")
    .argument("<id>")
    .requiredOption("--since <time>", "ISO 8601, or a duration ago: 30m, 2h, 7d")
    .option("--until <time>", "ISO 8601, or a duration ago (default: now)")
    .action(
      action(async (id: string, o: { since: string; until?: string }, cmd: Command) => {
        const api = apiFor(cmd);
        const body = { since: parseSince(o.since), ...(o.until ? { until: parseSince(o.until) } : {}) };
        const result = await api.call(api.client.POST("/v1/subscriptions/{id}/recover", { params: { path: { id } }, body }));
        if (wantsJson(cmd)) return printJson(result);
        notice(`queued ${result.deliveries} deliveries again`);
      }),
    );

  const events = program.command("events").description("emit events (operator) and read the event log");

  events
    .command("emit")
    .description("emit an event (needs the operator token as --api-key or HOOKLINE_API_KEY)")
    .argument("<type>", "the event type, e.g. attribute_updated")
    .requiredOption("--data <json>", "the event's data: JSON, @file, or @- for stdin")
    .option("--subject <id>", "the resource the event is about")
    .option("--account <id>", "the account whose subscriptions receive it (account_id)")
    .option("--timestamp <time>", "the event time (ISO 8601; default now)")
    .option("--idempotency-key <key>", "emitting again with the same key answers the first answer")
    .action(
      action(
        async (
          type: string,
          o: { data: string; subject?: string; account?: string; timestamp?: string; idempotencyKey?: string },
          cmd: Command,
        ) => {
          const data = readData(o.data);
          if (!o.account) throw new CliError("--account <id> is required: the account whose subscriptions receive the event");
          const api = apiFor(cmd);
          const result = await api.call(
            api.client.POST("/v1/events", {
              params: { header: o.idempotencyKey ? { "idempotency-key": o.idempotencyKey } : {} },
              body: { account_id: o.account, type, data, subject: o.subject, timestamp: o.timestamp },
            }),
          );
          if (wantsJson(cmd)) return printJson(result);
          write(
            table(result.data, [
              { header: "event", value: (e) => e.id },
              { header: "deliveries", value: (e) => e.deliveries },
            ]),
          );
        },
      ),
    );

  events
    .command("list")
    .description("list events, newest first")
    .option("--type <type>")
    .option("--subject <id>")
    .option("--since <time>", "ISO 8601, or a duration ago: 30m, 2h, 7d")
    .option("--account <id>", "operator: one account's events")
    .option("--limit <n>", "how many (1-100)", positiveInt)
    .option("--cursor <cursor>")
    .action(
      action(
        async (o: { type?: string; subject?: string; since?: string; account?: string; limit?: number; cursor?: string }, cmd: Command) => {
          const api = apiFor(cmd);
          const query = {
            type: o.type,
            subject: o.subject,
            since: o.since ? parseSince(o.since) : undefined,
            account_id: o.account,
            limit: o.limit,
            cursor: o.cursor,
          };
          const page = await api.call(api.client.GET("/v1/events", { params: { query } }));
          printPage(
            cmd,
            page,
            [
              { header: "id", value: (e) => e.id },
              { header: "type", value: (e) => e.type },
              { header: "subject", value: (e) => e.subject, max: 30 },
              { header: "account", value: (e) => e.account_id },
              { header: "created", value: (e) => e.created_at },
            ],
            "no events",
          );
        },
      ),
    );

  events
    .command("get")
    .description("show an event and its deliveries")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const api = apiFor(cmd);
        const event = await api.call(api.client.GET("/v1/events/{id}", { params: { path: { id } } }));
        if (wantsJson(cmd)) return printJson(event);
        const { deliveries, ...rest } = event;
        write(keyValues(rest));
        if (deliveries.length) write("\n" + table(deliveries, deliveryColumns));
      }),
    );

  const deliveries = program.command("deliveries").description("the delivery log: list, inspect, redeliver");

  deliveries
    .command("list")
    .description("a subscription's deliveries, newest first")
    .requiredOption("--subscription <id>", "the subscription")
    .addOption(new Option("--status <status>").choices(DELIVERY_STATUSES))
    .option("--limit <n>", "how many (1-100)", positiveInt)
    .option("--cursor <cursor>")
    .action(
      action(
        async (o: { subscription: string; status?: (typeof DELIVERY_STATUSES)[number]; limit?: number; cursor?: string }, cmd: Command) => {
          const api = apiFor(cmd);
          const page = await api.call(
            api.client.GET("/v1/subscriptions/{id}/deliveries", {
              params: { path: { id: o.subscription }, query: { status: o.status, limit: o.limit, cursor: o.cursor } },
            }),
          );
          printPage(cmd, page, deliveryColumns, "no deliveries");
        },
      ),
    );

  deliveries
    .command("get")
    .description("show a delivery and its attempts")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const api = apiFor(cmd);
        const delivery = await api.call(api.client.GET("/v1/deliveries/{id}", { params: { path: { id } } }));
        if (wantsJson(cmd)) return printJson(delivery);
        const { attempts, ...rest } = delivery;
        write(keyValues(rest));
        if (attempts.length) {
          write(
            "\n" +
              table(attempts, [
                { header: "#", value: (a) => a.number },
                { header: "started", value: (a) => a.started_at },
                { header: "ms", value: (a) => a.duration_ms },
                { header: "outcome", value: (a) => a.outcome, color: (a, c, t) => statusColor(a.outcome, c, t) },
                { header: "status", value: (a) => a.status_code },
                { header: "error", value: (a) => a.error, max: 50 },
              ]),
          );
        }
      }),
    );

  deliveries
    .command("redeliver")
    .description("send a finished delivery again (same webhook-id, a fresh series of attempts)")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const api = apiFor(cmd);
        printOne(cmd, await api.call(api.client.POST("/v1/deliveries/{id}/redeliver", { params: { path: { id } } })));
      }),
    );

  return program;
}

export async function main(argv = process.argv): Promise<void> {
  const invokedAs = basename(argv[1] ?? "hookline").replace(/\.(c|m)?js$/, "");
  watchStdout();
  const program = buildProgram(invokedAs);
  // Usage errors (unknown option, missing argument) exit 1 like every other failure, after commander's message.
  program.exitOverride();
  for (const cmd of allCommands(program)) cmd.exitOverride();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 1;
      return;
    }
    printError(err);
    process.exitCode = 1;
  }
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

main();
