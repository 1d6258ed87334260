/** Where the dashboard lives: every link, form action and redirect starts here. */
export const BASE = "/dashboard";

export const subscriptionUrl = (id: string) => `${BASE}/subscriptions/${id}`;
