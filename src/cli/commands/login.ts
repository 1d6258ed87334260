/// <reference types="node" />
/** `login` and `logout`: the url and key kept in the config file. */
import type { Command } from "commander";
import { rmSync } from "node:fs";
import { connect } from "../api";
import { configPath, normalizeUrl, resolveConfig, writeStoredConfig } from "../config";
import { CliError, notice } from "../output";
import { action, globals, present } from "./action";

export function registerLogin(program: Command): void {
  program
    .command("login")
    .description(`check a url and key and store them in ${configPath()} (mode 0600)`)
    .option("--no-verify", "store them without calling the service")
    .action(
      action(async (options: { verify: boolean }, cmd: Command) => {
        const resolved = resolveConfig(globals(cmd));
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
        present(cmd, { url: resolved.url, config_path: path }, () => notice(`logged in to ${resolved.url}${who}; saved to ${path}`));
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
}
