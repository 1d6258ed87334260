/** Sending deliveries again or anew: a test event, every failed one since a time, one by id. */
import { Hono } from "hono";
import { idRegex } from "../core/ids";
import { ProblemError } from "../core/problem";
import { parseUtc } from "../core/utc-time";
import { recover, redeliver, sendTestEvent } from "../services/redelivery";
import { findSubscription } from "../services/subscriptions";
import { body, type DashEnv, ownedSubscription, refusal, requireSession, seeOther } from "./context";
import { field } from "./forms";
import { detailPage } from "./pages";
import { subscriptionUrl } from "./paths";
import { ownedDelivery } from "./queries";

export const deliveryRoutes = new Hono<DashEnv>();

deliveryRoutes.post("/subscriptions/:id/test", async (c) => {
  const sub = await ownedSubscription(c);
  const result = await sendTestEvent(c.env, c.get("config"), sub);
  return seeOther(c, subscriptionUrl(sub.id), { test: result.delivery_id });
});

deliveryRoutes.post("/subscriptions/:id/recover", async (c) => {
  const sub = await ownedSubscription(c);
  const raw = field(await body(c), "since");
  const since = parseUtc(raw);
  if (since === null) {
    return detailPage(c, sub, { since: raw, sinceError: "Enter a time in UTC as YYYY-MM-DD HH:MM:SS, e.g. 2026-11-30 08:47:56 UTC.", status: 422 });
  }
  const now = Date.now();
  if (since >= now) return detailPage(c, sub, { since: raw, sinceError: "Pick a time in the past.", status: 422 });
  try {
    const n = await recover(c.env, sub, since, now + 1);
    return seeOther(c, subscriptionUrl(sub.id), { notice: "recovered", n });
  } catch (err) {
    const problem = refusal(err);
    return detailPage(c, sub, { since: raw, error: problem.message, status: problem.status });
  }
});

deliveryRoutes.post("/deliveries/:id/redeliver", async (c) => {
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
  return seeOther(c, subscriptionUrl(delivery.subscriptionId), { notice: "redelivered" });
});
