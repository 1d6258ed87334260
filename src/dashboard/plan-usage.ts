/** How many subscriptions the account's plan allows, and the sentence shown when they are all used. */
import { plans } from "../config";
import type { AccountRow } from "../db/schema";

export const planLabel = (plan: string) => plan.charAt(0).toUpperCase() + plan.slice(1);

export const planUsage = (account: AccountRow, used: number) => {
  const cap = plans[account.plan as keyof typeof plans]?.maxSubscriptions ?? 0;
  return { used, cap, full: used >= cap, plan: planLabel(account.plan) };
};

export const capMessage = (u: ReturnType<typeof planUsage>) =>
  `The ${u.plan} plan allows ${u.cap} subscriptions and this account has ${u.used}: delete one or upgrade the plan to add another.`;
