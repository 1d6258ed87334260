/** A subscription's delivery log: the status filter, redelivery since a time, each delivery and its attempts. */
import { DELIVERY_STATUSES, type DeliveryStatus, dueAt } from "../../core/delivery-state";
import type { AttemptRow, SubscriptionRow } from "../../db/schema";
import { BASE, subscriptionUrl } from "../paths";
import type { LoggedDelivery } from "../queries";
import { Badge, Csrf, excerpt, FieldErrors, statusLabel, Time } from "./parts";

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

export function DeliveryLog(props: {
  sub: SubscriptionRow;
  csrf?: string;
  deliveries: LoggedDelivery[];
  nextCursor: string | null;
  status?: DeliveryStatus;
  since: string;
  sinceError?: string;
}) {
  const { sub, csrf } = props;
  const base = subscriptionUrl(sub.id);
  const filter = props.status ? `&status=${props.status}` : "";
  return (
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
              {/* Text, not datetime-local: a browser shows that in its locale's format, the server parses this one. */}
              <input
                id="f-since"
                name="since"
                type="text"
                autocomplete="off"
                spellcheck={false}
                placeholder="2026-11-30 08:47:56 UTC"
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
                  {d.status === "pending" && (
                    <div class="muted">
                      next attempt <Time ms={dueAt(d)!} />
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
  );
}
