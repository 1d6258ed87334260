/** One subscription's page: its settings and actions, the test result, its secret, and its delivery log. */
import type { DeliveryStatus } from "../../core/delivery-state";
import type { AccountRow, AttemptRow, SubscriptionRow } from "../../db/schema";
import type { SubscriptionStats } from "../../services/stats";
import { BASE, subscriptionUrl } from "../paths";
import type { LoggedDelivery } from "../queries";
import { DeliveryLog } from "./deliveries";
import { type PageContext, Layout } from "./layout";
import { Csrf, excerpt, formatLabels, Notice, ProblemBox, Time } from "./parts";
import { StatsSection } from "./stats";
import { ActiveBadge, ActiveForm, DisabledWarning, EventsList, switchedOff } from "./subscription-parts";

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
    stats: SubscriptionStats;
    notice?: string;
    error?: string;
    since: string;
    sinceError?: string;
  },
) {
  const { sub, csrf } = props;
  const base = subscriptionUrl(sub.id);
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
          <ActiveBadge sub={sub} />
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
        <dt>Rate limit</dt>
        <dd id="sub-throttle">{sub.throttleRate === null ? "none" : `${sub.throttleRate} a second`}</dd>
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
          data-confirm="Rotate the signing secret? Standard subscriptions keep signing with the old one too for 24 hours; the compatibility formats switch at once."
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
      <StatsSection stats={props.stats} />

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

      <DeliveryLog
        sub={sub}
        csrf={csrf}
        deliveries={props.deliveries}
        nextCursor={props.nextCursor}
        status={props.status}
        since={props.since}
        sinceError={props.sinceError}
      />
    </Layout>
  );
}
