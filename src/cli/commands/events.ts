/** `events`: emit an event (operator) and read the event log, /v1/events. */
import type { Command } from "commander";
import { CliError, keyValues, table, write } from "../output";
import { action, present, request, showPage } from "./action";
import { deliveryColumns } from "./columns";
import { parseSince, positiveInt, readData } from "./option-parsers";

interface EmitOptions {
  data: string;
  subject?: string;
  account?: string;
  timestamp?: string;
  idempotencyKey?: string;
}

interface ListOptions {
  type?: string;
  subject?: string;
  since?: string;
  account?: string;
  limit?: number;
  cursor?: string;
}

export function registerEvents(program: Command): void {
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
      action(async (type: string, o: EmitOptions, cmd: Command) => {
        const data = readData(o.data);
        if (!o.account) throw new CliError("--account <id> is required: the account whose subscriptions receive the event");
        const body = { account_id: o.account, type, data, subject: o.subject, timestamp: o.timestamp };
        const result = await request(cmd, (client) =>
          client.POST("/v1/events", { params: { header: o.idempotencyKey ? { "idempotency-key": o.idempotencyKey } : {} }, body }),
        );
        present(cmd, result, () =>
          write(
            table(result.data, [
              { header: "event", value: (e) => e.id },
              { header: "deliveries", value: (e) => e.deliveries },
            ]),
          ),
        );
      }),
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
      action(async (o: ListOptions, cmd: Command) => {
        await showPage(
          cmd,
          // --since is parsed once connected, so a missing key is the error reported first.
          (client) =>
            client.GET("/v1/events", {
              params: {
                query: {
                  type: o.type,
                  subject: o.subject,
                  since: o.since ? parseSince(o.since) : undefined,
                  account_id: o.account,
                  limit: o.limit,
                  cursor: o.cursor,
                },
              },
            }),
          [
            { header: "id", value: (e) => e.id },
            { header: "type", value: (e) => e.type },
            { header: "subject", value: (e) => e.subject, max: 30 },
            { header: "account", value: (e) => e.account_id },
            { header: "created", value: (e) => e.created_at },
          ],
          "no events",
        );
      }),
    );

  events
    .command("get")
    .description("show an event and its deliveries")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const event = await request(cmd, (client) => client.GET("/v1/events/{id}", { params: { path: { id } } }));
        present(cmd, event, ({ deliveries, ...rest }) => {
          write(keyValues(rest));
          if (deliveries.length) write("\n" + table(deliveries, deliveryColumns));
        });
      }),
    );
}
