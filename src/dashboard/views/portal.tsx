/** A portal link's pages: the one that redeems it, the refusals, and where a portal session ends. */
import { type PageContext, Layout } from "./layout";

/** Posts itself at once (data-autosubmit); without JavaScript, the button does. */
export function PortalLinkPage(props: PageContext & { action: string; accountName: string }) {
  return (
    <Layout title="Opening the dashboard" nonce={props.nonce}>
      <h1>Opening the webhooks dashboard</h1>
      <p>
        This link signs you in to the webhooks of <strong id="portal-account">{props.accountName}</strong>, once.
      </p>
      <form method="post" action={props.action} data-autosubmit>
        <div class="actions">
          <button type="submit" class="primary">
            Continue
          </button>
        </div>
      </form>
    </Layout>
  );
}

export function PortalMessagePage(props: PageContext & { title: string; detail: string }) {
  return (
    <Layout title={props.title} nonce={props.nonce}>
      <h1>{props.title}</h1>
      <p id="portal-message">{props.detail}</p>
    </Layout>
  );
}
