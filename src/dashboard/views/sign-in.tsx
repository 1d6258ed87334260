/** The sign-in page: an account's API key, exchanged for a session. */
import { BASE } from "../paths";
import { type PageContext, Layout } from "./layout";
import { FieldErrors, Notice } from "./parts";

export function LoginPage(props: PageContext & { name?: string; error?: string; notice?: string; next?: string }) {
  return (
    <Layout title="Sign in" nonce={props.nonce}>
      <h1>Sign in</h1>
      <Notice text={props.notice} />
      <p>
        Sign in with one of your account's API keys (they start with <code>hl_</code>). The key is exchanged for a
        session that lasts 8 hours; it is not kept in the browser.
      </p>
      <form method="post" action={`${BASE}/login`}>
        {props.next && <input type="hidden" name="next" value={props.next} />}
        <label for="f-name">
          Account name <span class="opt">(optional)</span>
        </label>
        <input id="f-name" name="name" type="text" autocomplete="username" value={props.name ?? ""} spellcheck={false} />
        <label for="f-key">API key</label>
        <input
          id="f-key"
          name="key"
          type="password"
          required
          autocomplete="current-password"
          aria-invalid={props.error ? "true" : undefined}
          aria-describedby={props.error ? "key-error" : undefined}
          data-focus={props.error ? true : undefined}
        />
        <FieldErrors id="key-error" messages={props.error ? [props.error] : undefined} />
        <div class="actions">
          <button type="submit" class="primary">
            Sign in
          </button>
        </div>
      </form>
    </Layout>
  );
}
