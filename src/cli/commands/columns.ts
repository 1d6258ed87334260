/** The table columns more than one command prints. */
import type { components } from "../../client/schema";
import { type Column, green, red, yellow } from "../output";

type Subscription = components["schemas"]["Subscription"];
type Delivery = components["schemas"]["Delivery"];

export const statusColor = (status: string, c: boolean, text: string) =>
  status === "delivered" || status === "success" ? green(c, text) : status === "failed" ? red(c, text) : status === "pending" || status === "in_flight" ? yellow(c, text) : text;

export const subscriptionColumns: Column<Subscription>[] = [
  { header: "id", value: (s) => s.id },
  { header: "format", value: (s) => s.format },
  { header: "events", value: (s) => s.event_types, max: 40 },
  { header: "url", value: (s) => s.url, max: 60 },
  {
    header: "active",
    value: (s) => (s.active ? "yes" : "no"),
    color: (s, c, text) => (s.active ? green(c, text) : red(c, text)),
  },
  { header: "failures", value: (s) => s.consecutive_failures },
];

export const deliveryColumns: Column<Delivery>[] = [
  { header: "id", value: (d) => d.id },
  { header: "status", value: (d) => d.status, color: (d, c, t) => statusColor(d.status, c, t) },
  { header: "attempts", value: (d) => d.attempts_count },
  { header: "event", value: (d) => d.event_id },
  { header: "subscription", value: (d) => d.subscription_id },
  { header: "created", value: (d) => d.created_at },
];
