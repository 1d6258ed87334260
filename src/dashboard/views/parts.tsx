/** Small pieces every page uses: times, badges, the CSRF field, notices and field errors. */
import type { Child } from "hono/jsx";
import { formatUtc } from "../../core/utc-time";

export const Time = ({ ms }: { ms: number | null }) =>
  ms === null ? <span class="muted">—</span> : <time datetime={new Date(ms).toISOString()}>{formatUtc(ms)}</time>;

export const Csrf = ({ token }: { token?: string }) => <input type="hidden" name="_csrf" value={token ?? ""} />;

export const statusLabel: Record<string, string> = {
  pending: "pending",
  in_flight: "in flight",
  delivered: "delivered",
  failed: "failed",
  skipped: "skipped",
};

export const Badge = ({ kind, children }: { kind: string; children: Child }) => <span class={`badge s-${kind}`}>{children}</span>;

export const formatLabels: Record<string, string> = {
  standard: "Standard Webhooks",
  clarife: "clarife",
  clara: "Clara.io",
  smartshape: "SmartShape",
};

export const excerpt = (body: string | null, max = 300) =>
  body === null || body === "" ? null : body.length > max ? `${body.slice(0, max)}…` : body;

export const FieldErrors = ({ id, messages }: { id: string; messages?: string[] }) =>
  messages && messages.length ? (
    <p class="field-error" id={id}>
      {messages.join("; ")}
    </p>
  ) : null;

export const describedBy = (...ids: Array<string | false | undefined>) => ids.filter(Boolean).join(" ") || undefined;

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

export const sentence = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
