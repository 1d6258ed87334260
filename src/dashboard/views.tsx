/** The dashboard's pages: server-rendered Hono JSX, plain forms, no client framework. */
import type { Child } from "hono/jsx";
import { raw } from "hono/html";
import { plans } from "../config";
import type { FieldError } from "../core/problem";
import type { AccountRow, AttemptRow, SubscriptionRow } from "../db/schema";
import { CSS, JS } from "./assets";
import { errorsByField, type SubscriptionFormValues, utcLocal } from "./forms";
import { type CatalogEntry, DELIVERY_STATUSES, type DeliveryStatus, type ListedSubscription, type LoggedDelivery } from "./queries";

export const BASE = "/dashboard";

export interface PageContext {
  nonce: string;
  account?: AccountRow;
  csrf?: string;
}

// ---------- small pieces ----------

const pad = (n: number) => String(n).padStart(2, "0");

export function formatTime(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

const Time = ({ ms }: { ms: number | null }) =>
  ms === null ? <span class="muted">—</span> : <time datetime={new Date(ms).toISOString()}>{formatTime(ms)}</time>;

const Csrf = ({ token }: { token?: string }) => <input type="hidden" name="_csrf" value={token ?? ""} />;

const statusLabel: Record<string, string> = {
  pending: "pending",
  in_flight: "in flight",
  delivered: "delivered",
  failed: "failed",
  skipped: "skipped",
};

const Badge = ({ kind, children }: { kind: string; children: Child }) => <span class={`badge s-${kind}`}>{children}</span>;

const planLabel = (plan: string) => plan.charAt(0).toUpperCase() + plan.slice(1);

export const planUsage = (account: AccountRow, used: number) => {
  const cap = plans[account.plan as keyof typeof plans]?.maxSubscriptions ?? 0;
  return { used, cap, full: used >= cap, plan: planLabel(account.plan) };
};

export const capMessage = (u: ReturnType<typeof planUsage>) =>
  `The ${u.plan} plan allows ${u.cap} subscriptions and this account has ${u.used}: delete one or upgrade the plan to add another.`;

const formatLabels: Record<string, string> = {
  standard: "Standard Webhooks",
  clarife: "clarife",
  clara: "Clara.io",
  smartshape: "SmartShape",
};

const excerpt = (body: string | null, max = 300) =>
  body === null || body === "" ? null : body.length > max ? `${body.slice(0, max)}…` : body;

const subUrl = (id: string) => `${BASE}/subscriptions/${id}`;

// ---------- layout ----------

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

/** The errors nobody's field shows, and a list of them all, linked to their fields. */
function ErrorSummary({ errors, fieldIds }: { errors: FieldError[]; fieldIds: Record<string, string> }) {
  if (errors.length === 0) return null;
  return (
    <div class="box errors" role="alert" tabindex={-1} data-focus id="error-summary" aria-labelledby="error-summary-h">
      <h2 id="error-summary-h">{errors.length === 1 ? "There is a problem" : `There are ${errors.length} problems`}</h2>
      <ul>
        {errors.map((e) => {
          const target = fieldIds[e.path.split(".")[0]];
          return <li>{target ? <a href={`#${target}`}>{e.message}</a> : e.message}</li>;
        })}
      </ul>
    </div>
  );
}

const FieldErrors = ({ id, messages }: { id: string; messages?: string[] }) =>
  messages && messages.length ? (
    <p class="field-error" id={id}>
      {messages.join("; ")}
    </p>
  ) : null;

const describedBy = (...ids: Array<string | false | undefined>) => ids.filter(Boolean).join(" ") || undefined;

export function Notice({ text }: { text?: string }) {
  if (!text) return null;
  return (
    <div class="box notice" role="status">
      {text}
    </div>
  );
}

export function ProblemBox({ text }: { text?: string }) {
  if (!text) return null;
  return (
    <div class="box errors" role="alert" tabindex={-1} data-focus>
      {text}
    </div>
  );
}

// ---------- sign in ----------

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

// ---------- the list ----------

function DisabledWarning({ sub, csrf, back }: { sub: SubscriptionRow; csrf?: string; back: "list" | "detail" }) {
  const id = `warn-${sub.id}`;
  return (
    <section class="box warning" aria-labelledby={id}>
      <h2 id={id}>
        Switched off: <span class="url">{sub.url}</span>
      </h2>
      <dl class="facts">
        <dt>When</dt>
        <dd>
          <Time ms={sub.disabledAt} />
        </dd>
        <dt>Why</dt>
        <dd>{sentence(sub.disabledReason ?? "deactivated after repeated failed attempts")}</dd>
        <dt>Failures</dt>
        <dd>{sub.consecutiveFailures} consecutive failed attempts</dd>
      </dl>
      <p>
        Events for it are recorded as skipped and not sent. Fix the endpoint, then re-enable it; skipped deliveries can
        be sent again from its delivery log.
      </p>
      <div class="actions">
        <ActiveForm sub={sub} csrf={csrf} back={back} primary label="Re-enable" />
        {back === "list" && (
          <a class="btn" href={`${subUrl(sub.id)}?status=failed`}>
            See failed deliveries
          </a>
        )}
      </div>
    </section>
  );
}

function ActiveForm(props: { sub: SubscriptionRow; csrf?: string; back: "list" | "detail"; label?: string; primary?: boolean }) {
  const { sub } = props;
  const label = props.label ?? (sub.active ? "Switch off" : "Switch on");
  return (
    <form method="post" action={`${subUrl(sub.id)}/active`}>
      <Csrf token={props.csrf} />
      <input type="hidden" name="active" value={sub.active ? "false" : "true"} />
      <input type="hidden" name="back" value={props.back} />
      <button type="submit" class={props.primary ? "primary" : "small"} aria-label={`${label}: ${sub.url}`}>
        {label}
      </button>
    </form>
  );
}

const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);

const switchedOff = (s: SubscriptionRow) => !s.active && s.disabledAt !== null;

const EventsList = ({ types, max = 4 }: { types: string[]; max?: number }) => (
  <>
    {types.slice(0, max).map((t, i) => (
      <>
        {i > 0 && ", "}
        <code>{t}</code>
      </>
    ))}
    {types.length > max && <span class="muted"> +{types.length - max} more</span>}
  </>
);

export function ListPage(props: PageContext & { account: AccountRow; subs: ListedSubscription[]; notice?: string; error?: string }) {
  const { subs, csrf } = props;
  const usage = planUsage(props.account, subs.length);
  const off = subs.filter(switchedOff);
  return (
    <Layout title="Webhooks" {...props}>
      {off.map((s) => (
        <DisabledWarning sub={s} csrf={csrf} back="list" />
      ))}
      <Notice text={props.notice} />
      <ProblemBox text={props.error} />
      <h1>Webhooks</h1>
      <p>Hookline sends a signed HTTP POST to each endpoint below whenever one of its events happens.</p>
      <div class="usage">
        <span id="usage">
          <strong>
            {usage.used} of {usage.cap}
          </strong>{" "}
          subscriptions on {usage.plan}
        </span>
        {!usage.full && (
          <a class="btn primary" href={`${BASE}/subscriptions/new`}>
            Add webhook
          </a>
        )}
      </div>
      {usage.full && (
        <p class="box warning" id="cap-message">
          {capMessage(usage)}
        </p>
      )}
      {subs.length === 0 ? (
        <p class="box">No webhooks yet. Add one to start receiving events.</p>
      ) : (
        <table class="stack">
          <caption class="vh">Your webhooks</caption>
          <thead>
            <tr>
              <th scope="col">Endpoint</th>
              <th scope="col">Events</th>
              <th scope="col">Format</th>
              <th scope="col">Status</th>
              <th scope="col">Failures</th>
              <th scope="col">Last delivery</th>
            </tr>
          </thead>
          <tbody>
            {subs.map((s) => (
              <tr class={s.active ? undefined : "off"} id={`row-${s.id}`}>
                <td data-label="Endpoint" class="endpoint">
                  <a class="url" href={subUrl(s.id)}>
                    {s.url}
                  </a>
                  {s.description && <div class="muted">{s.description}</div>}
                </td>
                <td data-label="Events">
                  <EventsList types={s.eventTypes} />
                </td>
                <td data-label="Format">{formatLabels[s.format] ?? s.format}</td>
                <td data-label="Status">
                  {s.active ? <Badge kind="active">active</Badge> : <Badge kind={switchedOff(s) ? "off" : "paused"}>off</Badge>}
                  {switchedOff(s) && (
                    <div class="muted">
                      switched off <Time ms={s.disabledAt} /> after {s.consecutiveFailures} failures
                    </div>
                  )}
                  <div class="actions">
                    <ActiveForm sub={s} csrf={csrf} back="list" label={switchedOff(s) ? "Re-enable" : undefined} />
                  </div>
                </td>
                <td data-label="Consecutive failures">{s.consecutiveFailures}</td>
                <td data-label="Last delivery">
                  {s.lastStatus ? (
                    <>
                      <Badge kind={s.lastStatus}>{statusLabel[s.lastStatus]}</Badge>
                      <div class="muted">
                        <Time ms={s.lastAt} />
                      </div>
                    </>
                  ) : (
                    <span class="muted">none yet</span>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Layout>
  );
}

// ---------- create and edit ----------

interface EventGroup {
  key: string;
  types: CatalogEntry[];
  wildcard: string | null;
}

/** The catalog by resource: the part of the name before its first dot or underscore. */
export function groupCatalog(entries: CatalogEntry[]): EventGroup[] {
  const groups = new Map<string, CatalogEntry[]>();
  for (const e of entries) {
    const key = e.name.split(/[._]/)[0];
    groups.set(key, [...(groups.get(key) ?? []), e]);
  }
  return [...groups.entries()].map(([key, types]) => ({
    key,
    types,
    wildcard: types.every((t) => t.name.startsWith(`${key}.`)) ? `${key}.*` : null,
  }));
}

const SUB_FIELDS = ["url", "event_types", "format", "subjects", "description", "secret"] as const;
const fieldIds: Record<string, string> = Object.fromEntries(SUB_FIELDS.map((f) => [f, `f-${f}`]));

export function SubscriptionFormPage(
  props: PageContext & {
    mode: "create" | "edit";
    sub?: SubscriptionRow;
    values: SubscriptionFormValues;
    catalog: CatalogEntry[];
    errors: FieldError[];
    capText?: string;
  },
) {
  const { values, mode } = props;
  // On edit, a secret problem concerns the format change (the secret itself is rotated elsewhere).
  const errors = mode === "edit" ? props.errors.map((e) => (e.path === "secret" ? { ...e, path: "format" } : e)) : props.errors;
  const { byField } = errorsByField(errors, SUB_FIELDS);
  const selected = new Set(values.eventTypes);
  const usable = props.catalog.filter((t) => !t.deprecated || selected.has(t.name));
  const groups = groupCatalog(usable);
  const shown = new Set(["*", ...usable.map((t) => t.name), ...groups.flatMap((g) => (g.wildcard ? [g.wildcard] : []))]);
  const others = values.eventTypes.filter((t) => !shown.has(t));
  const invalid = (f: string) => (byField[f] ? "true" : undefined);
  const err = (f: string) => (byField[f] ? `${f}-error` : undefined);
  const title = mode === "create" ? "Add webhook" : "Edit webhook";
  const action = mode === "create" ? `${BASE}/subscriptions` : subUrl(props.sub!.id);
  const back = mode === "create" ? BASE : subUrl(props.sub!.id);
  return (
    <Layout title={title} {...props}>
      <p>
        <a href={back}>← {mode === "create" ? "All webhooks" : "Back to the webhook"}</a>
      </p>
      <h1>{title}</h1>
      <ErrorSummary errors={errors} fieldIds={fieldIds} />
      {props.capText && (
        <p class="box warning" id="cap-message">
          {props.capText}
        </p>
      )}
      <form method="post" action={action}>
        <Csrf token={props.csrf} />
        <label for="f-url">Endpoint URL</label>
        <p class="hint" id="url-hint">
          Where Hookline sends each event as an HTTP POST. Standard and clarife endpoints must use https.
        </p>
        <input
          id="f-url"
          name="url"
          type="url"
          required
          inputmode="url"
          autocomplete="off"
          spellcheck={false}
          placeholder="https://example.com/webhooks"
          value={values.url}
          aria-invalid={invalid("url")}
          aria-describedby={describedBy("url-hint", err("url"))}
        />
        <FieldErrors id="url-error" messages={byField.url} />

        <fieldset id="f-event_types" aria-describedby={describedBy("event_types-hint", err("event_types"))} aria-invalid={invalid("event_types")}>
          <legend>Events</legend>
          <p class="hint" id="event_types-hint">
            Pick the events this endpoint receives, by resource. “Every … event” also covers types added later.
          </p>
          <FieldErrors id="event_types-error" messages={byField.event_types} />
          <label class="check">
            <input type="checkbox" name="event_types" value="*" checked={selected.has("*")} />
            <span>
              All events <code>*</code>
            </span>
          </label>
          {groups.map((g) => {
            const picked = g.types.filter((t) => selected.has(t.name)).length + (g.wildcard && selected.has(g.wildcard) ? 1 : 0);
            return (
              <details class="group" open={picked > 0}>
                <summary>
                  <strong>{g.key}</strong>{" "}
                  <span class="muted">
                    ({g.types.length} {g.types.length === 1 ? "event" : "events"}
                    {picked > 0 ? `, ${picked} picked` : ""})
                  </span>
                </summary>
                {g.wildcard && (
                  <label class="check">
                    <input type="checkbox" name="event_types" value={g.wildcard} checked={selected.has(g.wildcard)} />
                    <span>
                      Every {g.key} event <code>{g.wildcard}</code>
                    </span>
                  </label>
                )}
                {g.types.map((t) => (
                  <label class="check">
                    <input type="checkbox" name="event_types" value={t.name} checked={selected.has(t.name)} />
                    <span>
                      <code>{t.name}</code>
                      {t.deprecated && <strong> (deprecated)</strong>}
                      {t.description && <span class="muted"> {t.description}</span>}
                    </span>
                  </label>
                ))}
              </details>
            );
          })}
          {others.length > 0 && (
            <details class="group" open>
              <summary>
                <strong>other</strong>
              </summary>
              {others.map((t) => (
                <label class="check">
                  <input type="checkbox" name="event_types" value={t} checked />
                  <code>{t}</code>
                </label>
              ))}
            </details>
          )}
        </fieldset>

        <label for="f-format">Format</label>
        <p class="hint" id="format-hint">
          How each delivery is shaped and signed. Standard Webhooks unless your receiver expects a seed system's format.
        </p>
        <select id="f-format" name="format" aria-invalid={invalid("format")} aria-describedby={describedBy("format-hint", err("format"))}>
          {Object.entries(formatLabels).map(([value, label]) => (
            <option value={value} selected={values.format === value}>
              {label} ({value})
            </option>
          ))}
        </select>
        <FieldErrors id="format-error" messages={byField.format} />

        <label for="f-subjects">
          Subjects <span class="opt">(optional)</span>
        </label>
        <p class="hint" id="subjects-hint">
          Only events about these resource ids, separated by commas or spaces. Empty: every subject.
        </p>
        <input
          id="f-subjects"
          name="subjects"
          type="text"
          spellcheck={false}
          value={values.subjects}
          aria-invalid={invalid("subjects")}
          aria-describedby={describedBy("subjects-hint", err("subjects"))}
        />
        <FieldErrors id="subjects-error" messages={byField.subjects} />

        <label for="f-description">
          Description <span class="opt">(optional)</span>
        </label>
        <input
          id="f-description"
          name="description"
          type="text"
          value={values.description}
          aria-invalid={invalid("description")}
          aria-describedby={err("description")}
        />
        <FieldErrors id="description-error" messages={byField.description} />

        {mode === "create" && (
          <>
            <label for="f-secret">
              Signing secret <span class="opt">(optional)</span>
            </label>
            <p class="hint" id="secret-hint">
              Leave empty and Hookline generates one. SmartShape needs a token you choose; a standard secret is{" "}
              <code>whsec_</code> and base64.
            </p>
            <input
              id="f-secret"
              name="secret"
              type="text"
              autocomplete="off"
              spellcheck={false}
              value={values.secret}
              aria-invalid={invalid("secret")}
              aria-describedby={describedBy("secret-hint", err("secret"))}
            />
            <FieldErrors id="secret-error" messages={byField.secret} />
          </>
        )}
        <div class="actions">
          <button type="submit" class="primary">
            {mode === "create" ? "Add webhook" : "Save changes"}
          </button>
          <a class="btn" href={back}>
            Cancel
          </a>
        </div>
      </form>
    </Layout>
  );
}

// ---------- one subscription and its log ----------

export interface TestOutcome {
  attempt: AttemptRow;
  eventType: string | null;
}

function TestResult({ result }: { result: TestOutcome }) {
  const a = result.attempt;
  const ok = a.outcome === "success";
  return (
    <section class={`box ${ok ? "notice" : "errors"}`} id="test-result" aria-labelledby="test-result-h" tabindex={-1} data-focus>
      <h2 id="test-result-h">Test event {ok ? "delivered" : "failed"}</h2>
      <p>
        <code>{result.eventType ?? "webhook.test"}</code> sent <Time ms={a.startedAt} />:{" "}
        <strong id="test-status">{a.statusCode !== null ? `HTTP ${a.statusCode}` : a.outcome}</strong> in{" "}
        <strong id="test-duration">{a.durationMs} ms</strong>
        {a.error ? ` (${a.error})` : ""}.
      </p>
      {excerpt(a.responseBody) !== null ? (
        <>
          <p class="hint">Response body (first 300 characters):</p>
          <pre id="test-response">{excerpt(a.responseBody)}</pre>
        </>
      ) : (
        <p class="hint">The response had no body.</p>
      )}
    </section>
  );
}

function Attempts({ list }: { list: AttemptRow[] }) {
  return (
    <ol class="attempts">
      {list.map((a) => (
        <li>
          <div>
            Attempt {a.number} · <Time ms={a.startedAt} /> · {a.durationMs} ms ·{" "}
            <Badge kind={a.outcome}>{a.statusCode !== null ? `HTTP ${a.statusCode}` : a.outcome}</Badge>
            {a.error && <span class="muted"> {a.error}</span>}
          </div>
          {excerpt(a.responseBody) !== null && <pre>{excerpt(a.responseBody)}</pre>}
        </li>
      ))}
    </ol>
  );
}

const FINISHED = new Set(["delivered", "failed", "skipped"]);

export function DetailPage(
  props: PageContext & {
    account: AccountRow;
    sub: SubscriptionRow;
    secret: string | null;
    reveal: boolean;
    deliveries: LoggedDelivery[];
    nextCursor: string | null;
    status?: DeliveryStatus;
    test?: TestOutcome | null;
    notice?: string;
    error?: string;
    since: string;
    sinceError?: string;
  },
) {
  const { sub, csrf } = props;
  const base = subUrl(sub.id);
  const filter = props.status ? `&status=${props.status}` : "";
  return (
    <Layout title={sub.url} {...props}>
      <p>
        <a href={BASE}>← All webhooks</a>
      </p>
      {switchedOff(sub) && <DisabledWarning sub={sub} csrf={csrf} back="detail" />}
      <Notice text={props.notice} />
      <ProblemBox text={props.error} />
      <h1 class="url">{sub.url}</h1>
      {sub.description && <p>{sub.description}</p>}
      <dl class="facts">
        <dt>Status</dt>
        <dd id="sub-status">
          {sub.active ? <Badge kind="active">active</Badge> : <Badge kind={switchedOff(sub) ? "off" : "paused"}>off</Badge>}
        </dd>
        <dt>Events</dt>
        <dd>
          <EventsList types={sub.eventTypes} max={100} />
        </dd>
        <dt>Subjects</dt>
        <dd>{sub.subjects ? sub.subjects.join(", ") : <span class="muted">every subject</span>}</dd>
        <dt>Format</dt>
        <dd>
          {formatLabels[sub.format] ?? sub.format} (<code>{sub.format}</code>)
        </dd>
        <dt>Consecutive failures</dt>
        <dd id="sub-failures">{sub.consecutiveFailures}</dd>
        <dt>Created</dt>
        <dd>
          <Time ms={sub.createdAt} />
        </dd>
      </dl>
      <div class="actions">
        <a class="btn small" href={`${base}/edit`}>
          Edit
        </a>
        {!switchedOff(sub) && <ActiveForm sub={sub} csrf={csrf} back="detail" />}
        <form method="post" action={`${base}/test`}>
          <Csrf token={csrf} />
          <button type="submit" class="small">
            Send test event
          </button>
        </form>
        <form
          method="post"
          action={`${base}/rotate-secret`}
          data-confirm="Rotate the signing secret? Standard subscriptions keep signing with the old one too for 24 hours; the seed formats switch at once."
        >
          <Csrf token={csrf} />
          <input type="hidden" name="confirmed" value="" />
          <button type="submit" class="small">
            Rotate secret
          </button>
        </form>
        <form method="post" action={`${base}/delete`} data-confirm={`Delete the webhook to ${sub.url}? This cannot be undone.`}>
          <Csrf token={csrf} />
          <input type="hidden" name="confirmed" value="" />
          <button type="submit" class="small danger">
            Delete
          </button>
        </form>
      </div>
      {props.test && <TestResult result={props.test} />}

      <section class="secret" aria-labelledby="secret-h">
        <h2 id="secret-h">Signing secret</h2>
        {props.secret === null ? (
          <p class="muted">This hook has no secret: its deliveries are not signed.</p>
        ) : (
          <>
            <p class="hint">Keep it on your server and verify every delivery with it.</p>
            <details open={props.reveal}>
              <summary>Show the secret</summary>
              <code id="secret">{props.secret}</code>
            </details>
            <div class="actions">
              <button type="button" class="small" data-copy="secret" hidden>
                Copy secret
              </button>
              <span id="secret-status" role="status" />
            </div>
            {sub.previousSecretUntil !== null && sub.previousSecretUntil > Date.now() && (
              <p class="hint">
                The previous secret also signs until <Time ms={sub.previousSecretUntil} />.
              </p>
            )}
          </>
        )}
      </section>

      <section aria-labelledby="deliveries-h">
        <h2 id="deliveries-h">Deliveries</h2>
        <div class="toolbar">
          <form method="get" action={base} class="inline-form">
            <div>
              <label for="f-status">Status</label>
              <select id="f-status" name="status">
                <option value="" selected={!props.status}>
                  all
                </option>
                {DELIVERY_STATUSES.map((s) => (
                  <option value={s} selected={props.status === s}>
                    {statusLabel[s]}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit">Show</button>
          </form>
          {sub.active ? (
            <form method="post" action={`${base}/recover`} class="inline-form">
              <Csrf token={csrf} />
              <div class="wide">
                <label for="f-since">Failed or skipped since (UTC)</label>
                <input
                  id="f-since"
                  name="since"
                  type="datetime-local"
                  step={1}
                  value={props.since}
                  required
                  aria-invalid={props.sinceError ? "true" : undefined}
                  aria-describedby={props.sinceError ? "since-error" : undefined}
                />
              </div>
              <button type="submit">Redeliver them all</button>
            </form>
          ) : (
            <p class="hint">Switch the webhook back on to redeliver.</p>
          )}
        </div>
        <FieldErrors id="since-error" messages={props.sinceError ? [props.sinceError] : undefined} />
        {props.deliveries.length === 0 ? (
          <p class="box">{props.status ? `No ${statusLabel[props.status]} deliveries.` : "No deliveries yet."}</p>
        ) : (
          <table class="stack" id="deliveries">
            <thead>
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col">Attempts</th>
                <th scope="col">
                  <span class="vh">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {props.deliveries.map((d) => (
                <tr id={`delivery-${d.id}`} data-status={d.status}>
                  <td data-label="Created">
                    <Time ms={d.createdAt} />
                    <div class="muted">
                      <code>{d.id}</code>
                    </div>
                  </td>
                  <td data-label="Event">
                    <code>{d.eventType ?? d.eventId}</code>
                  </td>
                  <td data-label="Status">
                    <Badge kind={d.status}>{statusLabel[d.status]}</Badge>
                    {d.nextAttemptAt !== null && d.status === "pending" && (
                      <div class="muted">
                        next attempt <Time ms={d.nextAttemptAt} />
                      </div>
                    )}
                  </td>
                  <td data-label="Attempts">
                    {d.attempts.length === 0 ? (
                      <span class="muted">none</span>
                    ) : (
                      <details>
                        <summary>
                          {d.attempts.length} {d.attempts.length === 1 ? "attempt" : "attempts"}
                        </summary>
                        <Attempts list={d.attempts} />
                      </details>
                    )}
                  </td>
                  <td>
                    {sub.active && FINISHED.has(d.status) && (
                      <form method="post" action={`${BASE}/deliveries/${d.id}/redeliver`}>
                        <Csrf token={csrf} />
                        <button type="submit" class="small" aria-label={`Redeliver ${d.id}`}>
                          Redeliver
                        </button>
                      </form>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {props.nextCursor && (
          <p>
            <a href={`${base}?cursor=${encodeURIComponent(props.nextCursor)}${filter}`}>Older deliveries →</a>
          </p>
        )}
      </section>
    </Layout>
  );
}

// ---------- confirmations and errors ----------

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

export { utcLocal };
