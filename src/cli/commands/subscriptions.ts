/// <reference types="node" />
/** `subscriptions` (alias `subs`): the account's subscriptions, /v1/subscriptions. */
import { type Command, Option } from "commander";
import { CliError, notice } from "../output";
import { action, present, request, showOne, showPage } from "./action";
import { subscriptionColumns } from "./columns";
import { collect, FORMATS, type FormatName, keyValue, parseSince, positiveInt } from "./option-parsers";

interface CreateOptions {
  event: string[];
  format?: FormatName;
  subject?: string[];
  description?: string;
  secret?: string;
  header?: Record<string, string>;
  metadata?: Record<string, string>;
  inactive?: boolean;
  throttleRate?: number;
}

interface UpdateOptions {
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
  /** A rate, or false for --no-throttle-rate. */
  throttleRate?: number | false;
}

export function registerSubscriptions(program: Command): void {
  const subs = program.command("subscriptions").alias("subs").description("the account's subscriptions (/v1/subscriptions)");

  subs
    .command("list")
    .description("list subscriptions, newest first")
    .option("--limit <n>", "how many (1-100)", positiveInt)
    .option("--cursor <cursor>", "the next page (printed after a full page)")
    .action(
      action(async (o: { limit?: number; cursor?: string }, cmd: Command) => {
        await showPage(
          cmd,
          (client) => client.GET("/v1/subscriptions", { params: { query: { limit: o.limit, cursor: o.cursor } } }),
          subscriptionColumns,
          "no subscriptions",
        );
      }),
    );

  subs
    .command("get")
    .description("show a subscription")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        await showOne(cmd, (client) => client.GET("/v1/subscriptions/{id}", { params: { path: { id } } }));
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
    .option("--throttle-rate <n>", "send at most n deliveries a second (1-10000); the rest wait", positiveInt)
    .action(
      action(async (url: string, o: CreateOptions, cmd: Command) => {
        const body = {
          url,
          event_types: o.event,
          format: o.format,
          subjects: o.subject,
          description: o.description,
          secret: o.secret,
          headers: o.header,
          metadata: o.metadata,
          active: o.inactive ? false : undefined,
          throttle_rate: o.throttleRate,
        };
        await showOne(cmd, (client) => client.POST("/v1/subscriptions", { body }));
      }),
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
    .option("--throttle-rate <n>", "send at most n deliveries a second (1-10000)", positiveInt)
    .option("--no-throttle-rate", "drop the rate limit")
    .action(
      action(async (id: string, o: UpdateOptions, cmd: Command) => {
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
          throttle_rate: o.throttleRate === false ? null : o.throttleRate,
        };
        if (Object.values(body).every((v) => v === undefined)) throw new CliError("nothing to change: give at least one option (--help)");
        await showOne(cmd, (client) => client.PATCH("/v1/subscriptions/{id}", { params: { path: { id } }, body }));
      }),
    );

  subs
    .command("delete")
    .description("delete a subscription (its delivery log stays)")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        await request(cmd, (client) => client.DELETE("/v1/subscriptions/{id}", { params: { path: { id } } }));
        present(cmd, { id, deleted: true }, () => notice(`deleted ${id}`));
      }),
    );

  subs
    .command("secret")
    .description("show the signing secret")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        await showOne(cmd, (client) => client.GET("/v1/subscriptions/{id}/secret", { params: { path: { id } } }));
      }),
    );

  subs
    .command("test")
    .description("send a test event now and show the endpoint's answer (exit code 1 when it is not a success)")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const result = await showOne(cmd, (client) => client.POST("/v1/subscriptions/{id}/test", { params: { path: { id } } }));
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
        const body = o.secret === undefined ? {} : { secret: o.secret };
        await showOne(cmd, (client) => client.POST("/v1/subscriptions/{id}/rotate-secret", { params: { path: { id } }, body }));
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
        // The times are parsed once connected, so a missing key is the error reported first.
        const result = await request(cmd, (client) =>
          client.POST("/v1/subscriptions/{id}/recover", {
            params: { path: { id } },
            body: { since: parseSince(o.since), ...(o.until ? { until: parseSince(o.until) } : {}) },
          }),
        );
        present(cmd, result, () => notice(`queued ${result.deliveries} deliveries again`));
      }),
    );
}
