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

/** murmur3's finalizer: a one-to-one mix of 32 bits. */
const mix32 = (x: number) => {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
};

/**
 * The id of a delivery's attempt number `number` (1, 2, ... over the delivery's whole life,
 * redeliveries included): the delivery's UUID with its random bits turned by a mask that
 * depends on the number alone. So an attempt's id is never stored (the log keeps 42 bytes fewer
 * per delivery) and reads the same every time. It is unique: for one number it maps delivery ids
 * one to one, masks of different numbers differ, and two attempts of different numbers would
 * clash only if two random UUIDs differed by exactly those two masks. It is still a UUIDv4 in
 * form (version and variant bits kept).
 */
export function attemptIdOf(deliveryId: string, number: number): string {
  const hex = deliveryId.slice(deliveryId.indexOf("_") + 1).replaceAll("-", "");
  let out = "";
  for (let i = 0; i < 4; i++) {
    const word = (Number.parseInt(hex.slice(i * 8, i * 8 + 8), 16) ^ mix32(Math.imul(number, 4) + i + 0x9e3779b9)) >>> 0;
    out += word.toString(16).padStart(8, "0");
  }
  const variant = ((Number.parseInt(out[16]!, 16) & 3) | 8).toString(16);
  return `${idPrefixes.attempt}${out.slice(0, 8)}-${out.slice(8, 12)}-4${out.slice(13, 16)}-${variant}${out.slice(17, 20)}-${out.slice(20)}`;
}

export function idRegex(kind: IdKind): RegExp {
  return new RegExp(`^${idPrefixes[kind]}${uuidPattern}$`);
}

export function isId(kind: IdKind, value: string): boolean {
  return idRegex(kind).test(value);
}
