/** What the list and a subscription's page both show: its status, the switch, the switched-off warning. */
import type { SubscriptionRow } from "../../db/schema";
import { subscriptionUrl } from "../paths";
import { Badge, Csrf, sentence, Time } from "./parts";

export const switchedOff = (s: SubscriptionRow) => !s.active && s.disabledAt !== null;

export function DisabledWarning({ sub, csrf, back }: { sub: SubscriptionRow; csrf?: string; back: "list" | "detail" }) {
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
          <a class="btn" href={`${subscriptionUrl(sub.id)}?status=failed`}>
            See failed deliveries
          </a>
        )}
      </div>
    </section>
  );
}

export function ActiveForm(props: { sub: SubscriptionRow; csrf?: string; back: "list" | "detail"; label?: string; primary?: boolean }) {
  const { sub } = props;
  const label = props.label ?? (sub.active ? "Switch off" : "Switch on");
  return (
    <form method="post" action={`${subscriptionUrl(sub.id)}/active`}>
      <Csrf token={props.csrf} />
      <input type="hidden" name="active" value={sub.active ? "false" : "true"} />
      <input type="hidden" name="back" value={props.back} />
      <button type="submit" class={props.primary ? "primary" : "small"} aria-label={`${label}: ${sub.url}`}>
        {label}
      </button>
    </form>
  );
}

export const EventsList = ({ types, max = 4 }: { types: string[]; max?: number }) => (
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

export const ActiveBadge = ({ sub }: { sub: SubscriptionRow }) =>
  sub.active ? <Badge kind="active">active</Badge> : <Badge kind={switchedOff(sub) ? "off" : "paused"}>off</Badge>;
