/** Where the dashboard lives: every link, form action and redirect starts here. */
export const BASE = "/dashboard";

export const subscriptionUrl = (id: string) => `${BASE}/subscriptions/${id}`;

/** A portal link's pages (/dashboard/portal/<token>) and the page a portal session ends on. */
export const PORTAL_PAGES = `${BASE}/portal`;
