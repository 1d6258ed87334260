/// <reference types="node" />
/**
 * `hookline`, Hookline's command line (also installed as `smartshape-cli`, so the SmartShape
 * seed's `webhook create|list|delete|listen` commands and scripts run unchanged).
 * Built by scripts/build.mjs into dist/cli.js, the package's two bins. Each command group
 * lives in commands/; this file sets up the program and its global options.
 */
import { Command, CommanderError } from "commander";
import { basename } from "node:path";
import { registerDeliveries } from "./commands/deliveries";
import { registerEvents } from "./commands/events";
import { registerLogin } from "./commands/login";
import { registerSubscriptions } from "./commands/subscriptions";
import { registerWebhook } from "./commands/webhook";
import { configPath } from "./config";
import { printError, watchStdout } from "./output";
import { VERSION } from "./version";

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

  // The order here is the order of `--help`.
  registerLogin(program);
  registerWebhook(program);
  registerSubscriptions(program);
  registerEvents(program);
  registerDeliveries(program);
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
