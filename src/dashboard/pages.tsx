/**
 * Each page with the data it reads, rendered: what a GET shows, and what a refused
 * form shows again with its errors (and the status that goes with them).
 */
import { DELIVERY_STATUSES, type DeliveryStatus } from "../core/delivery-state";
import { idRegex } from "../core/ids";
import type { FieldError } from "../core/problem";
import { formatUtc } from "../core/utc-time";
import type { SubscriptionRow } from "../db/schema";
import { statsOfOwnedSubscription } from "../services/stats";
import { readSecret } from "../services/subscriptions";
import { type Ctx, page, render, requireSession } from "./context";
import type { SubscriptionFormValues } from "./forms";
import { noticeFrom } from "./notices";
import { BASE } from "./paths";
import { capMessage, planUsage } from "./plan-usage";
import { catalog, deliveryPage, lastAttempt, listSubscriptions } from "./queries";
import { LoginPage } from "./views/sign-in";
import { DetailPage } from "./views/subscription-detail";
import { SubscriptionFormPage } from "./views/subscription-form";
import { ListPage } from "./views/subscriptions-list";

/** The sign-in page; a GET of another page comes back to that page once signed in. */
export function signIn(c: Ctx, opts: { status?: number; error?: string; name?: string; notice?: string } = {}) {
  const url = new URL(c.req.url);
  const next = c.req.method === "GET" && url.pathname !== BASE && url.pathname !== `${BASE}/login` ? url.pathname + url.search : undefined;
  return render(
    c,
    <LoginPage nonce={c.get("nonce")} name={opts.name} error={opts.error} notice={opts.notice} next={next} />,
    opts.status ?? 200,
  );
}

export async function listPage(c: Ctx) {
  const session = c.get("session");
  if (!session) return signIn(c, { notice: noticeFrom(c) });
  const subs = await listSubscriptions(c.env, session.account.id);
  return render(c, <ListPage {...page(c)} account={session.account} subs={subs} notice={noticeFrom(c)} />);
}

export interface FormTarget {
  mode: "create" | "edit";
  sub?: SubscriptionRow;
}

export async function formPage(c: Ctx, opts: FormTarget & { values: SubscriptionFormValues; errors?: FieldError[]; status?: number }) {
  const session = requireSession(c);
  const [entries, subs] = await Promise.all([
    catalog(c.env),
    opts.mode === "create" ? listSubscriptions(c.env, session.account.id) : Promise.resolve([]),
  ]);
  const usage = planUsage(session.account, subs.length);
  const capText = opts.mode === "create" && usage.full && !opts.errors?.length ? capMessage(usage) : undefined;
  return render(
    c,
    <SubscriptionFormPage
      {...page(c)}
      mode={opts.mode}
      sub={opts.sub}
      values={opts.values}
      catalog={entries}
      errors={opts.errors ?? []}
      capText={capText}
    />,
    opts.status ?? 200,
  );
}

export async function detailPage(
  c: Ctx,
  sub: SubscriptionRow,
  opts: { error?: string; sinceError?: string; since?: string; status?: number } = {},
) {
  const session = requireSession(c);
  const statusParam = c.req.query("status");
  const status = DELIVERY_STATUSES.includes(statusParam as DeliveryStatus) ? (statusParam as DeliveryStatus) : undefined;
  const testId = c.req.query("test");
  const notice = opts.error ? undefined : noticeFrom(c);
  const [secret, log, test, stats] = await Promise.all([
    readSecret(c.get("config"), sub),
    deliveryPage(c.env, sub.id, status, c.req.query("cursor") || undefined),
    testId && idRegex("delivery").test(testId) ? lastAttempt(c.env, session.account.id, sub.id, testId) : Promise.resolve(null),
    statsOfOwnedSubscription(c.env, session.account.id, sub.id),
  ]);
  const code = c.req.query("notice");
  return render(
    c,
    <DetailPage
      {...page(c)}
      account={session.account}
      sub={sub}
      secret={secret}
      reveal={!opts.error && (code === "created" || code === "rotated")}
      deliveries={log.items}
      nextCursor={log.nextCursor}
      status={status}
      test={test}
      stats={stats}
      notice={notice}
      error={opts.error}
      since={opts.since ?? formatUtc(Date.now() - 24 * 3600 * 1000)}
      sinceError={opts.sinceError}
    />,
    opts.status ?? 200,
  );
}
