/** Resource ids: a type prefix and a UUIDv4, as in svix (`msg_`, `ep_`). */
export const idPrefixes = {
  account: "acct_",
  key: "key_",
  subscription: "sub_",
  event: "evt_",
  delivery: "dlv_",
  attempt: "att_",
  listenSession: "lsn_",
  operationalWebhook: "opwh_",
} as const;

export type IdKind = keyof typeof idPrefixes;

const uuidPattern = "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}";

export function newId(kind: IdKind): string {
  return idPrefixes[kind] + crypto.randomUUID();
}

export function idRegex(kind: IdKind): RegExp {
  return new RegExp(`^${idPrefixes[kind]}${uuidPattern}$`);
}

export function isId(kind: IdKind, value: string): boolean {
  return idRegex(kind).test(value);
}
