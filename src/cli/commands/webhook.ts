/// <reference types="node" />
/**
 * `webhook`: the SmartShape seed's `create|list|delete` through its face (/webhook/), so its
 * commands and scripts run unchanged, and `listen` to receive deliveries without a tunnel.
 */
import { type Command, Option } from "commander";
import { listen } from "../listen";
import { CliError, notice, table, write } from "../output";
import { action, apiFor, present, printOne } from "./action";
import { collect, FORMATS, type FormatName } from "./option-parsers";

interface SmartShapeWebhook {
  _id: string;
  event: string;
  url: string;
}

export function registerWebhook(program: Command): void {
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
        const hooks = (await apiFor(cmd).raw("GET", "/webhook/")) as SmartShapeWebhook[];
        present(cmd, hooks, () => {
          if (hooks.length === 0) return notice("no webhooks");
          write(
            table(hooks, [
              { header: "_id", value: (h) => h._id },
              { header: "event", value: (h) => h.event },
              { header: "url", value: (h) => h.url },
            ]),
          );
        });
      }),
    );

  webhook
    .command("delete")
    .description("delete a SmartShape webhook")
    .argument("<id>", "its _id")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const hook = await apiFor(cmd).raw("DELETE", `/webhook/${encodeURIComponent(id)}`);
        present(cmd, hook, () => notice(`deleted ${id}`));
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
        if (options.forwardTo) requireHttpUrl(options.forwardTo);
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
}

function requireHttpUrl(forwardTo: string): void {
  try {
    const u = new URL(forwardTo);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new Error();
  } catch {
    throw new CliError(`--forward-to must be an http(s) url, got "${forwardTo}"`);
  }
}
