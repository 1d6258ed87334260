/** The list, adding and editing a subscription, and what its page's buttons do to it. */
import { Hono } from "hono";
import type { FieldError, ProblemError } from "../core/problem";
import type { SubscriptionRow } from "../db/schema";
import { createSubscription, deleteSubscription, rotateSecret, updateSubscription } from "../services/subscriptions";
import { body, type Ctx, type DashEnv, ownedSubscription, page, refusal, render, requireSession, seeOther } from "./context";
import { checkSubscriptionForm, emptyForm, field, type FormBody, readSubscriptionForm, type SubscriptionFormValues } from "./forms";
import { detailPage, type FormTarget, formPage, listPage } from "./pages";
import { BASE, subscriptionUrl } from "./paths";
import { ConfirmPage } from "./views/confirm-and-error";

type CheckedInput = Extract<ReturnType<typeof checkSubscriptionForm>, { ok: true }>["input"];

const problemErrors = (p: ProblemError): FieldError[] => p.errors ?? [{ path: "(form)", message: p.message }];

/**
 * A posted subscription form: shown again with its errors (422 for its shape, the
 * service's status for its rules), or saved (`save` answers the subscription's id) and
 * followed to the subscription's page.
 */
async function submitForm(c: Ctx, target: FormTarget, save: (input: CheckedInput) => Promise<string>) {
  const values = readSubscriptionForm(await body(c));
  // The edit form has no secret field: the secret is rotated on its own.
  const checked = checkSubscriptionForm(target.mode === "edit" ? { ...values, secret: "" } : values);
  if (!checked.ok) return formPage(c, { ...target, values, errors: checked.errors, status: 422 });
  try {
    const id = await save(checked.input);
    return seeOther(c, subscriptionUrl(id), { notice: target.mode === "create" ? "created" : "updated" });
  } catch (err) {
    const problem = refusal(err);
    return formPage(c, { ...target, values, errors: problemErrors(problem), status: problem.status });
  }
}

const formValues = (sub: SubscriptionRow): SubscriptionFormValues => ({
  url: sub.url,
  eventTypes: sub.eventTypes,
  subjects: (sub.subjects ?? []).join(", "),
  description: sub.description,
  format: sub.format as SubscriptionFormValues["format"],
  secret: "",
  throttleRate: sub.throttleRate === null ? "" : String(sub.throttleRate),
});

/** Without the script's confirmation dialog, a destructive form first shows a page that asks. */
function confirmFirst(c: Ctx, form: FormBody, ask: { title: string; message: string; button: string; danger?: boolean }) {
  if (field(form, "confirmed") === "1") return null;
  const id = c.req.param("id") ?? "";
  return render(c, <ConfirmPage {...page(c)} {...ask} action={c.req.path} cancel={subscriptionUrl(id)} />);
}

export const subscriptionRoutes = new Hono<DashEnv>();

subscriptionRoutes.get("/", (c) => listPage(c));

subscriptionRoutes.get("/subscriptions/new", (c) => formPage(c, { mode: "create", values: emptyForm }));

subscriptionRoutes.post("/subscriptions", (c) => {
  const { account } = requireSession(c);
  return submitForm(c, { mode: "create" }, async (input) => {
    const { row } = await createSubscription(c.env, c.get("config"), account, { ...input, headers: {}, metadata: {}, active: true });
    return row.id;
  });
});

subscriptionRoutes.get("/subscriptions/:id/edit", async (c) => {
  const sub = await ownedSubscription(c);
  return formPage(c, { mode: "edit", sub, values: formValues(sub) });
});

subscriptionRoutes.post("/subscriptions/:id", async (c) => {
  const sub = await ownedSubscription(c);
  return submitForm(c, { mode: "edit", sub }, async ({ secret: _, ...input }) => {
    await updateSubscription(c.env, c.get("config"), sub, input);
    return sub.id;
  });
});

subscriptionRoutes.get("/subscriptions/:id", async (c) => detailPage(c, await ownedSubscription(c)));

subscriptionRoutes.post("/subscriptions/:id/active", async (c) => {
  const sub = await ownedSubscription(c);
  const form = await body(c);
  const active = field(form, "active") === "true";
  await updateSubscription(c.env, c.get("config"), sub, { active });
  const notice = active ? "enabled" : "disabled";
  return seeOther(c, field(form, "back") === "list" ? BASE : subscriptionUrl(sub.id), { notice });
});

subscriptionRoutes.post("/subscriptions/:id/rotate-secret", async (c) => {
  const sub = await ownedSubscription(c);
  const asked = confirmFirst(c, await body(c), {
    title: "Rotate the signing secret?",
    message: `A new secret replaces the current one of ${sub.url}. Standard subscriptions keep signing with the old one too for 24 hours; the compatibility formats switch at once.`,
    button: "Rotate secret",
  });
  if (asked) return asked;
  await rotateSecret(c.env, c.get("config"), sub);
  return seeOther(c, subscriptionUrl(sub.id), { notice: "rotated" });
});

subscriptionRoutes.post("/subscriptions/:id/delete", async (c) => {
  const sub = await ownedSubscription(c);
  const asked = confirmFirst(c, await body(c), {
    title: "Delete this webhook?",
    message: `Hookline stops sending events to ${sub.url}. This cannot be undone.`,
    button: "Delete webhook",
    danger: true,
  });
  if (asked) return asked;
  await deleteSubscription(c.env, sub);
  return seeOther(c, BASE, { notice: "deleted" });
});
