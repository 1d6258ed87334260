/**
 * Which Cloudflare account the deploy acts on, from `wrangler whoami --json`. Asked once,
 * up front, so a missing login or an ambiguous account stops the deploy before anything
 * is created, with the command that fixes it.
 */
import { DeployError, failed, parseJsonOutput, wrangler } from "./wrangler.mjs";

const LOGIN_HELP = "Run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then `npm run deploy` again.";

/** `wrangler whoami --json`, read: who is logged in and to which accounts. Throws when nobody is. */
export async function whoami(env) {
  const args = ["whoami", "--json"];
  const result = await wrangler(args, { env });
  const who = parseJsonOutput(result.stdout);
  // Not logged in: wrangler 4 prints {"loggedIn":false} and exits 1.
  if (who?.loggedIn === false) throw new DeployError(`Not logged in to Cloudflare. ${LOGIN_HELP}`);
  if (result.code !== 0 || !who?.loggedIn) throw failed(args, result);
  return who;
}

/**
 * The account to deploy to: CLOUDFLARE_ACCOUNT_ID, else the configuration's account_id, else
 * the login's only account. Several and none chosen: stop, listing them.
 * @returns {{ id: string, name: string, email?: string }}
 */
export function chooseAccount(who, { env, configAccountId }) {
  const accounts = (who.accounts ?? []).map(({ id, name }) => ({ id, name }));
  const listing = accounts.map((a) => `  CLOUDFLARE_ACCOUNT_ID=${a.id}   (${a.name})`).join("\n");
  const chosen = env.CLOUDFLARE_ACCOUNT_ID || configAccountId;
  if (chosen) {
    const account = accounts.find((a) => a.id === chosen);
    // An account token may not list its account; trust the choice then, wrangler will check it.
    if (account || accounts.length === 0) return { id: chosen, name: account?.name ?? "", email: who.email };
    throw new DeployError(`Account ${chosen} is not one this login can use. Available accounts:\n${listing}`);
  }
  if (accounts.length === 1) return { ...accounts[0], email: who.email };
  if (accounts.length === 0) {
    // A token without the permission to list accounts: wrangler cannot pick one by itself either.
    throw new DeployError("wrangler lists no account for this login. Set CLOUDFLARE_ACCOUNT_ID=<account id> (the id in your Cloudflare dashboard's URL) and run again.");
  }
  throw new DeployError(
    `Several Cloudflare accounts are available and none is chosen. Choose one and run again, e.g.\n` +
      `  CLOUDFLARE_ACCOUNT_ID=${accounts[0].id} npm run deploy\n` +
      `Available accounts:\n${listing}`,
  );
}
