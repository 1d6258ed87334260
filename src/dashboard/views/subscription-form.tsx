/** The page that adds or edits a subscription, showing a refused form again with its errors. */
import type { FieldError } from "../../core/problem";
import type { SubscriptionRow } from "../../db/schema";
import { errorsByField, type SubscriptionFormValues } from "../forms";
import { BASE, subscriptionUrl } from "../paths";
import type { CatalogEntry } from "../queries";
import { EventPicker } from "./event-picker";
import { type PageContext, Layout } from "./layout";
import { Csrf, describedBy, FieldErrors, formatLabels } from "./parts";

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

const SUB_FIELDS = ["url", "event_types", "format", "subjects", "description", "throttle_rate", "secret"] as const;
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
  const invalid = (f: string) => (byField[f] ? "true" : undefined);
  const err = (f: string) => (byField[f] ? `${f}-error` : undefined);
  const title = mode === "create" ? "Add webhook" : "Edit webhook";
  const action = mode === "create" ? `${BASE}/subscriptions` : subscriptionUrl(props.sub!.id);
  const back = mode === "create" ? BASE : subscriptionUrl(props.sub!.id);
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

        <EventPicker catalog={props.catalog} selected={values.eventTypes} errors={byField.event_types} />

        <label for="f-format">Format</label>
        <p class="hint" id="format-hint">
          How each delivery is shaped and signed. Standard Webhooks, unless your receiver expects one of the compatibility formats (clarife, Clara.io, SmartShape).
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

        <label for="f-throttle_rate">
          Rate limit <span class="opt">(optional)</span>
        </label>
        <p class="hint" id="throttle_rate-hint">
          At most this many deliveries a second to this endpoint (1 to 10,000). Deliveries above it wait and are sent later; none is
          dropped or counted as failed. Empty: no limit.
        </p>
        <input
          id="f-throttle_rate"
          name="throttle_rate"
          type="number"
          inputmode="numeric"
          min="1"
          max="10000"
          step="1"
          value={values.throttleRate}
          aria-invalid={invalid("throttle_rate")}
          aria-describedby={describedBy("throttle_rate-hint", err("throttle_rate"))}
        />
        <FieldErrors id="throttle_rate-error" messages={byField.throttle_rate} />

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
