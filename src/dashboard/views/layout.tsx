/** The page around every page: head with the nonce'd style and script, the top bar, and main. */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import type { AccountRow } from "../../db/schema";
import { CSS, JS } from "../assets";
import { BASE } from "../paths";
import { planLabel } from "../plan-usage";
import { Csrf } from "./parts";

export interface PageContext {
  nonce: string;
  account?: AccountRow;
  csrf?: string;
}

export function Layout(props: PageContext & { title: string; children: Child }) {
  const { account, csrf, nonce } = props;
  return (
    <>
      {raw("<!doctype html>")}
      <html lang="en">
        <head>
          <meta charset="utf-8" />
          <meta name="viewport" content="width=device-width, initial-scale=1" />
          <meta name="referrer" content="same-origin" />
          <title>{`${props.title} · Hookline`}</title>
          <link rel="icon" href="data:," />
          <style nonce={nonce} dangerouslySetInnerHTML={{ __html: CSS }} />
        </head>
        <body>
          <a class="skip" href="#main">
            Skip to content
          </a>
          <header class="top">
            <a class="brand" href={BASE}>
              Hookline
            </a>
            {account && (
              <>
                <span>
                  {account.name} · {planLabel(account.plan)} plan
                </span>
                <form method="post" action={`${BASE}/logout`}>
                  <Csrf token={csrf} />
                  <button type="submit" class="small">
                    Sign out
                  </button>
                </form>
              </>
            )}
          </header>
          <main id="main" class={account ? undefined : "narrow"} tabindex={-1}>
            {props.children}
          </main>
          <script nonce={nonce} dangerouslySetInnerHTML={{ __html: JS }} />
        </body>
      </html>
    </>
  );
}
