/**
 * /dashboard: clarife's Settings > API for every account, plus the delivery log.
 * Server-rendered pages and plain forms (POST, then a 303 redirect), working without
 * JavaScript. Sign-in exchanges an API key for a signed session cookie; every POST is
 * checked for its origin and its CSRF token. Changes go through src/services, exactly
 * the operations the /v1 API calls.
 */
import { Hono } from "hono";
import { getCookie } from "hono/cookie";
import type { Child } from "hono/jsx";
import { authenticate } from "../api/auth";
import type { AppEnv } from "../api/context";
import { idRegex } from "../core/ids";
import { randomBytes, toBase64, toBase64Url, utf8 } from "../core/encoding";
import { type FieldError, ProblemError } from "../core/problem";
import type { AccountRow, SubscriptionRow } from "../db/schema";
import { recover, redeliver, sendTestEvent } from "../services/redelivery";
import {
  createSubscription,
  deleteSubscription,
  findSubscription,
  readSecret,
  rotateSecret,
  updateSubscription,
} from "../services/subscriptions";
import {
  checkSubscriptionForm,
  emptyForm,
  field,
  type FormBody,
  parseUtcLocal,
  readSubscriptionForm,
  type SubscriptionFormValues,
  utcLocal,
} from "./forms";
import {
  catalog,
  DELIVERY_STATUSES,
  type DeliveryStatus,
  deliveryPage,
  lastAttempt,
  listSubscriptions,
  ownedDelivery,
  sessionAccount,
} from "./queries";
import {
  clearedSessionCookie,
  csrfToken,
  SESSION_COOKIE,
  sameOrigin,
  sessionCookie,
  signSession,
  verifyCsrf,
  verifySession,
} from "./session";
import {
  BASE,
  capMessage,
  ConfirmPage,
  DetailPage,
  ErrorPage,
  ListPage,
  LoginPage,
  type PageContext,
  planUsage,
  SubscriptionFormPage,
} from "./views";

export interface DashboardSession {
  account: AccountRow;
  keyId: string;
  token: string;
  csrf: string;
}

type DashEnv = {
  Bindings: Env;
  Variables: AppEnv["Variables"] & { nonce: string; session?: DashboardSession };
};

type Ctx = import("hono").Context<DashEnv>;

const notices: Record<string, string> = {
  created: "Webhook added. Copy its signing secret below: you need it to verify deliveries.",
  updated: "Changes saved.",
  enabled: "Webhook switched on. Its failure count starts again from zero.",
  disabled: "Webhook switched off: events for it are recorded as skipped and not sent.",
  rotated: "New signing secret created. Copy it below.",
  deleted: "Webhook deleted. Its delivery log stays until retention purges it.",
  redelivered: "Delivery queued again, with the same webhook-id.",
  signed_out: "You are signed out.",
};

function noticeFrom(c: Ctx): string | undefined {
  const code = c.req.query("notice") ?? "";
  if (code === "recovered") {
    const n = Number.parseInt(c.req.query("n") ?? "0", 10) || 0;
    return `${n} failed or skipped ${n === 1 ? "delivery" : "deliveries"} queued again.`;
  }
  return notices[code];
}

const page = (c: Ctx): PageContext => {
  const session = c.get("session");
  return { nonce: c.get("nonce") ?? "", account: session?.account, csrf: session?.csrf };
};

const render = (c: Ctx, body: Child, status = 200) => c.html(body as string, status as 200);

/** Where to go after signing in: only a dashboard path, never another site. */
const safeNext = (next: string | undefined) =>
  next && /^\/dashboard(\/[\w\-/]*)?(\?[\w\-=&%.:]*)?$/.test(next) ? next : BASE;

function signIn(c: Ctx, opts: { status?: number; error?: string; name?: string; notice?: string } = {}) {
  const url = new URL(c.req.url);
  const next = c.req.method === "GET" && url.pathname !== BASE && url.pathname !== `${BASE}/login` ? url.pathname + url.search : undefined;
  return render(
    c,
    <LoginPage nonce={c.get("nonce")} name={opts.name} error={opts.error} notice={opts.notice} next={next} />,
    opts.status ?? 200,
  );
}

function requireSession(c: Ctx): DashboardSession {
  const session = c.get("session");
  // The guard below answers every request without a session before it gets here.
  if (!session) throw new ProblemError("unauthorized", "sign in first");
  return session;
}

const body = (c: Ctx) => c.req.parseBody({ all: true }) as Promise<FormBody>;

/** A service refusal a page can show (4xx); anything else goes on to onError. */
function refusal(err: unknown): ProblemError {
  if (err instanceof ProblemError && err.status < 500) return err;
  throw err;
}

export const dashboardRoutes = new Hono<DashEnv>();

dashboardRoutes.onError((err, c) => {
  const nonce = c.get("nonce") ?? "";
  if (err instanceof ProblemError && err.status < 500) {
    const titles: Record<number, string> = { 401: "Sign in first", 403: "Not allowed", 404: "Not found", 409: "Not possible now" };
    return render(c, <ErrorPage {...page(c)} nonce={nonce} title={titles[err.status] ?? "Something is wrong"} detail={err.message} />, err.status);
  }
  console.error(`${c.req.method} ${new URL(c.req.url).pathname} failed:`, err instanceof Error ? err.message : err);
  return render(
    c,
    <ErrorPage {...page(c)} nonce={nonce} title="Something went wrong" detail="Something went wrong on our side; nothing was changed. Try again." />,
    500,
  );
});

// Every answer: a fresh CSP nonce for the inline style and script, and nothing cached or framed.
dashboardRoutes.use("*", async (c, next) => {
  const nonce = toBase64Url(randomBytes(16));
  c.set("nonce", nonce);
  await next();
  const h = c.res.headers;
  h.set(
    "content-security-policy",
    `default-src 'none'; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  h.set("cache-control", "no-store");
  h.set("x-frame-options", "DENY");
  h.set("x-content-type-options", "nosniff");
  h.set("referrer-policy", "same-origin");
});

// The session, if the cookie holds a valid one whose API key still exists.
dashboardRoutes.use("*", async (c, next) => {
  const secretsKey = c.get("config").secretsKey;
  const token = getCookie(c, SESSION_COOKIE);
  const claims = await verifySession(secretsKey, token);
  if (claims && token) {
    const account = await sessionAccount(c.env, claims.accountId, claims.keyId);
    if (account) c.set("session", { account, keyId: claims.keyId, token, csrf: await csrfToken(secretsKey, token) });
  }
  await next();
});

// Every POST: from this origin; and, but for signing in, with a session and its CSRF token.
dashboardRoutes.use("*", async (c, next) => {
  const path = c.req.path;
  if (path === `${BASE}/`) return c.redirect(BASE, 301);
  const open = c.req.method === "GET" && (path === BASE || path === `${BASE}/login`);
  if (c.req.method === "GET" || c.req.method === "HEAD") {
    if (!open && !c.get("session")) return signIn(c, { status: 401 });
    return next();
  }
  if (c.req.method !== "POST") throw new ProblemError("method_not_allowed", "the dashboard takes GET and POST only");
  if (!sameOrigin(c.req.url, c.req.raw.headers)) {
    return render(c, <ErrorPage {...page(c)} title="Refused" detail="This form was sent from another site." />, 403);
  }
  if (path === `${BASE}/login`) return next();
  const session = c.get("session");
  if (!session) return signIn(c, { status: 401, error: "Your session has ended: sign in again." });
  const form = await body(c);
  if (!(await verifyCsrf(c.get("config").secretsKey, session.token, form._csrf))) {
    return render(
      c,
      <ErrorPage {...page(c)} title="Refused" detail="This form is out of date or did not come from this dashboard. Reload the page and try again." />,
      403,
    );
  }
  return next();
});

// ---------- sign in and out ----------

dashboardRoutes.get("/", (c) => listPage(c));
dashboardRoutes.get("/login", (c) => (c.get("session") ? c.redirect(BASE, 303) : signIn(c)));

dashboardRoutes.post("/login", async (c) => {
  const form = await body(c);
  const name = field(form, "name").trim();
  const key = field(form, "key").trim();
  if (!key) return signIn(c, { status: 422, name, error: "Enter an API key." });
  const header = name ? `Basic ${toBase64(utf8(`${name}:${key}`))}` : `Bearer ${key}`;
  const config = c.get("config");
  let principal;
  try {
    principal = await authenticate(c.env, config.adminToken, header);
  } catch (err) {
    const problem = refusal(err);
    const error = problem.message.charAt(0).toUpperCase() + problem.message.slice(1) + ".";
    return signIn(c, { status: 401, name, error });
  }
  if (principal.kind !== "account") {
    return signIn(c, { status: 401, name, error: "That is the operator token: sign in with an account's API key." });
  }
  const token = await signSession(config.secretsKey, principal.account.id, principal.keyId);
  c.header("set-cookie", sessionCookie(token, c.req.url));
  return c.redirect(safeNext(field(form, "next")), 303);
});

dashboardRoutes.post("/logout", (c) => {
  c.header("set-cookie", clearedSessionCookie(c.req.url));
  return c.redirect(`${BASE}?notice=signed_out`, 303);
});

// ---------- the list ----------

async function listPage(c: Ctx, error?: string, status = 200) {
  const session = c.get("session");
  if (!session) return signIn(c, { notice: noticeFrom(c) });
  const subs = await listSubscriptions(c.env, session.account.id);
  return render(c, <ListPage {...page(c)} account={session.account} subs={subs} notice={noticeFrom(c)} error={error} />, status);
}

// ---------- create and edit ----------

async function formPage(
  c: Ctx,
  opts: { mode: "create" | "edit"; sub?: SubscriptionRow; values: SubscriptionFormValues; errors?: FieldError[]; status?: number },
) {
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

const problemErrors = (p: ProblemError): FieldError[] => p.errors ?? [{ path: "(form)", message: p.message }];

dashboardRoutes.get("/subscriptions/new", (c) => formPage(c, { mode: "create", values: emptyForm }));

dashboardRoutes.post("/subscriptions", async (c) => {
  const session = requireSession(c);
  const values = readSubscriptionForm(await body(c));
  const checked = checkSubscriptionForm(values);
  if (!checked.ok) return formPage(c, { mode: "create", values, errors: checked.errors, status: 422 });
  try {
    const { row } = await createSubscription(c.env, c.get("config"), session.account, {
      ...checked.input,
      headers: {},
      metadata: {},
      active: true,
    });
    return c.redirect(`${BASE}/subscriptions/${row.id}?notice=created`, 303);
  } catch (err) {
    const problem = refusal(err);
    return formPage(c, { mode: "create", values, errors: problemErrors(problem), status: problem.status });
  }
});

const owned = (c: Ctx) => findSubscription(c.env, requireSession(c).account.id, c.req.param("id") ?? "");

const formValues = (sub: SubscriptionRow): SubscriptionFormValues => ({
  url: sub.url,
  eventTypes: sub.eventTypes,
  subjects: (sub.subjects ?? []).join(", "),
  description: sub.description,
  format: sub.format as SubscriptionFormValues["format"],
  secret: "",
});

dashboardRoutes.get("/subscriptions/:id/edit", async (c) => {
  const sub = await owned(c);
  return formPage(c, { mode: "edit", sub, values: formValues(sub) });
});

dashboardRoutes.post("/subscriptions/:id", async (c) => {
  const sub = await owned(c);
  const values = readSubscriptionForm(await body(c));
  const checked = checkSubscriptionForm({ ...values, secret: "" });
  if (!checked.ok) return formPage(c, { mode: "edit", sub, values, errors: checked.errors, status: 422 });
  try {
    const { secret: _, ...input } = checked.input;
    await updateSubscription(c.env, c.get("config"), sub, input);
    return c.redirect(`${BASE}/subscriptions/${sub.id}?notice=updated`, 303);
  } catch (err) {
    const problem = refusal(err);
    return formPage(c, { mode: "edit", sub, values, errors: problemErrors(problem), status: problem.status });
  }
});

// ---------- one subscription ----------

async function detailPage(
  c: Ctx,
  sub: SubscriptionRow,
  opts: { error?: string; sinceError?: string; since?: string; status?: number } = {},
) {
  const session = requireSession(c);
  const statusParam = c.req.query("status");
  const status = DELIVERY_STATUSES.includes(statusParam as DeliveryStatus) ? (statusParam as DeliveryStatus) : undefined;
  const testId = c.req.query("test");
  const notice = opts.error ? undefined : noticeFrom(c);
  const [secret, log, test] = await Promise.all([
    readSecret(c.get("config"), sub),
    deliveryPage(c.env, sub.id, status, c.req.query("cursor") || undefined),
    testId && idRegex("delivery").test(testId) ? lastAttempt(c.env, session.account.id, sub.id, testId) : Promise.resolve(null),
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
      notice={notice}
      error={opts.error}
      since={opts.since ?? utcLocal(Date.now() - 24 * 3600 * 1000)}
      sinceError={opts.sinceError}
    />,
    opts.status ?? 200,
  );
}

dashboardRoutes.get("/subscriptions/:id", async (c) => detailPage(c, await owned(c)));

const backTo = (c: Ctx, sub: SubscriptionRow, back: string, notice: string) =>
  c.redirect(back === "list" ? `${BASE}?notice=${notice}` : `${BASE}/subscriptions/${sub.id}?notice=${notice}`, 303);

dashboardRoutes.post("/subscriptions/:id/active", async (c) => {
  const sub = await owned(c);
  const form = await body(c);
  const active = field(form, "active") === "true";
  await updateSubscription(c.env, c.get("config"), sub, { active });
  return backTo(c, sub, field(form, "back"), active ? "enabled" : "disabled");
});

dashboardRoutes.post("/subscriptions/:id/test", async (c) => {
  const sub = await owned(c);
  const result = await sendTestEvent(c.env, c.get("config"), sub);
  return c.redirect(`${BASE}/subscriptions/${sub.id}?test=${result.delivery_id}`, 303);
});

/** Without the script's confirmation dialog, a destructive form first shows a page that asks. */
function confirmFirst(c: Ctx, form: FormBody, ask: { title: string; message: string; button: string; danger?: boolean }) {
  if (field(form, "confirmed") === "1") return null;
  const id = c.req.param("id") ?? "";
  return render(c, <ConfirmPage {...page(c)} {...ask} action={c.req.path} cancel={`${BASE}/subscriptions/${id}`} />);
}

dashboardRoutes.post("/subscriptions/:id/rotate-secret", async (c) => {
  const sub = await owned(c);
  const asked = confirmFirst(c, await body(c), {
    title: "Rotate the signing secret?",
    message: `A new secret replaces the current one of ${sub.url}. Standard subscriptions keep signing with the old one too for 24 hours; the seed formats switch at once.`,
    button: "Rotate secret",
  });
  if (asked) return asked;
  await rotateSecret(c.env, c.get("config"), sub);
  return c.redirect(`${BASE}/subscriptions/${sub.id}?notice=rotated`, 303);
});

dashboardRoutes.post("/subscriptions/:id/delete", async (c) => {
  const sub = await owned(c);
  const asked = confirmFirst(c, await body(c), {
    title: "Delete this webhook?",
    message: `Hookline stops sending events to ${sub.url}. This cannot be undone.`,
    button: "Delete webhook",
    danger: true,
  });
  if (asked) return asked;
  await deleteSubscription(c.env, sub);
  return c.redirect(`${BASE}?notice=deleted`, 303);
});

dashboardRoutes.post("/subscriptions/:id/recover", async (c) => {
  const sub = await owned(c);
  const raw = field(await body(c), "since");
  const since = parseUtcLocal(raw);
  if (since === null) return detailPage(c, sub, { since: raw, sinceError: "Enter a date and time (UTC).", status: 422 });
  const now = Date.now();
  if (since >= now) return detailPage(c, sub, { since: raw, sinceError: "Pick a time in the past.", status: 422 });
  try {
    const n = await recover(c.env, sub, since, now + 1);
    return c.redirect(`${BASE}/subscriptions/${sub.id}?notice=recovered&n=${n}`, 303);
  } catch (err) {
    const problem = refusal(err);
    return detailPage(c, sub, { since: raw, error: problem.message, status: problem.status });
  }
});

dashboardRoutes.post("/deliveries/:id/redeliver", async (c) => {
  const session = requireSession(c);
  const id = c.req.param("id");
  const delivery = idRegex("delivery").test(id) ? await ownedDelivery(c.env, session.account.id, id) : null;
  if (!delivery) throw new ProblemError("not_found", "Delivery not found");
  try {
    await redeliver(c.env, delivery);
  } catch (err) {
    const problem = refusal(err);
    const sub = await findSubscription(c.env, session.account.id, delivery.subscriptionId).catch(() => null);
    if (!sub) throw problem;
    return detailPage(c, sub, { error: `Delivery ${delivery.id} was not sent again: ${problem.message}.`, status: problem.status });
  }
  return c.redirect(`${BASE}/subscriptions/${delivery.subscriptionId}?notice=redelivered`, 303);
});

dashboardRoutes.all("*", () => {
  throw new ProblemError("not_found", "There is no such page in the dashboard.");
});
