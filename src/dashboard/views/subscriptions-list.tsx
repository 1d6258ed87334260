/** The list of an account's webhooks, with its plan usage and any switched-off warnings. */
import type { AccountRow } from "../../db/schema";
import { BASE, subscriptionUrl } from "../paths";
import { capMessage, planUsage } from "../plan-usage";
import type { ListedSubscription } from "../queries";
import { type PageContext, Layout } from "./layout";
import { Badge, formatLabels, Notice, ProblemBox, statusLabel, Time } from "./parts";
import { ActiveBadge, ActiveForm, DisabledWarning, EventsList, switchedOff } from "./subscription-parts";

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
                  <a class="url" href={subscriptionUrl(s.id)}>
                    {s.url}
                  </a>
                  {s.description && <div class="muted">{s.description}</div>}
                </td>
                <td data-label="Events">
                  <EventsList types={s.eventTypes} />
                </td>
                <td data-label="Format">{formatLabels[s.format] ?? s.format}</td>
                <td data-label="Status">
                  <ActiveBadge sub={s} />
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
