/** The pages that stand between a form and its effect: a confirmation to ask, an error to explain. */
import { BASE } from "../paths";
import { type PageContext, Layout } from "./layout";
import { Csrf } from "./parts";

export function ConfirmPage(
  props: PageContext & { title: string; message: string; action: string; button: string; danger?: boolean; cancel: string },
) {
  return (
    <Layout {...props}>
      <h1>{props.title}</h1>
      <p>{props.message}</p>
      <form method="post" action={props.action} class="actions">
        <Csrf token={props.csrf} />
        <input type="hidden" name="confirmed" value="1" />
        <button type="submit" class={props.danger ? "danger" : "primary"} data-focus>
          {props.button}
        </button>
        <a class="btn" href={props.cancel}>
          Cancel
        </a>
      </form>
    </Layout>
  );
}

export function ErrorPage(props: PageContext & { title: string; detail: string }) {
  return (
    <Layout {...props}>
      <h1>{props.title}</h1>
      <p>{props.detail}</p>
      <p>
        <a href={BASE}>Back to the dashboard</a>
      </p>
    </Layout>
  );
}
