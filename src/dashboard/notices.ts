/** The line a page shows after a redirect, from its `notice` query parameter. */
import type { Ctx } from "./context";

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

export function noticeFrom(c: Ctx): string | undefined {
  const code = c.req.query("notice") ?? "";
  if (code === "recovered") {
    const n = Number.parseInt(c.req.query("n") ?? "0", 10) || 0;
    return `${n} failed or skipped ${n === 1 ? "delivery" : "deliveries"} queued again.`;
  }
  return notices[code];
}
