/**
 * Target url rules: which hosts a subscription may point to. Local workerd can reach private
 * addresses, and production refuses them only at fetch time, so the check lives
 * here and runs at create, at update and at every send.
 */
export type Scheme = "http" | "https";

export interface TargetPolicy {
  /** Schemes the subscription's format accepts. */
  schemes: readonly Scheme[];
  /** ALLOW_INSECURE_TARGETS: lifts the address rules and the https-only rule. */
  allowInsecure: boolean;
}

export type UrlCheck = { ok: true; url: URL } | { ok: false; rule: string };

export const MAX_URL_LENGTH = 2048;

const blockedHostnames = new Set([
  "localhost",
  "localhost.localdomain",
  "ip6-localhost",
  "ip6-loopback",
  "metadata.google.internal",
  "metadata",
  "instance-data",
]);

const refuse = (rule: string): UrlCheck => ({ ok: false, rule });

export function checkTargetUrl(raw: string, policy: TargetPolicy): UrlCheck {
  if (raw.length > MAX_URL_LENGTH) return refuse(`url is longer than ${MAX_URL_LENGTH} characters`);
  // The URL parser silently strips tabs and newlines: refuse them before it sees them.
  if (/[\u0000-\u0020\u007f-\u009f]/.test(raw)) return refuse("url contains whitespace or control characters");
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return refuse("url is not an absolute URL");
  }
  const scheme = url.protocol.slice(0, -1);
  if (scheme !== "http" && scheme !== "https") return refuse(`scheme ${scheme}: is not allowed (use https)`);
  if (url.username || url.password) return refuse("url must not contain credentials (user:password@)");
  if (!policy.allowInsecure && !policy.schemes.includes(scheme)) {
    return refuse(`this format requires ${policy.schemes.join(" or ")} urls`);
  }
  if (!url.hostname) return refuse("url has no host");
  if (!policy.allowInsecure) {
    const reason = blockedHostReason(url.hostname);
    if (reason) return refuse(reason);
  }
  return { ok: true, url };
}

/** Why a (parser-normalized) hostname is not a public target, or null when it is. */
export function blockedHostReason(hostname: string): string | null {
  const host = hostname.toLowerCase().replace(/\.+$/, "");
  if (host.startsWith("[")) {
    const v6 = parseIpv6(host.slice(1, -1));
    if (!v6) return "url host is not a valid IPv6 address";
    const reason = ipv6Reason(v6);
    return reason ? `url points to a ${reason} address` : null;
  }
  const v4 = parseIpv4(host);
  if (v4 !== null) {
    const reason = ipv4Reason(v4);
    return reason ? `url points to a ${reason} address` : null;
  }
  if (blockedHostnames.has(host) || host.endsWith(".localhost")) {
    return `url points to a local or metadata host (${host})`;
  }
  return null;
}

function parseIpv4(host: string): number | null {
  // The WHATWG parser already turned 0x7f.1, 2130706433 and 127.1 into dotted decimal.
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3];
}

const ipv4Ranges: ReadonlyArray<readonly [string, number, string]> = [
  ["0.0.0.0", 8, "unspecified"],
  ["10.0.0.0", 8, "private"],
  ["100.64.0.0", 10, "carrier-grade NAT (CGNAT)"],
  ["127.0.0.0", 8, "loopback"],
  ["169.254.0.0", 16, "link-local or metadata"],
  ["172.16.0.0", 12, "private"],
  ["192.0.0.0", 24, "IETF protocol assignment"],
  ["192.0.2.0", 24, "documentation (TEST-NET-1)"],
  ["192.88.99.0", 24, "6to4 relay anycast"],
  ["192.168.0.0", 16, "private"],
  ["198.18.0.0", 15, "benchmarking"],
  ["198.51.100.0", 24, "documentation (TEST-NET-2)"],
  ["203.0.113.0", 24, "documentation (TEST-NET-3)"],
  ["224.0.0.0", 4, "multicast"],
  ["240.0.0.0", 4, "reserved or broadcast"],
];

const ipv4Masks = ipv4Ranges.map(([base, bits, name]) => {
  const mask = bits === 0 ? 0 : (~0 << (32 - bits)) >>> 0;
  return { net: (parseIpv4(base)! & mask) >>> 0, mask, name };
});

function ipv4Reason(addr: number): string | null {
  for (const { net, mask, name } of ipv4Masks) if (((addr & mask) >>> 0) === net) return name;
  return null;
}

/** Parses a (bracket-less) IPv6 address into 8 16-bit groups. */
function parseIpv6(text: string): number[] | null {
  let head = text;
  let tailV4: number[] = [];
  const lastColon = head.lastIndexOf(":");
  const maybeV4 = head.slice(lastColon + 1);
  if (maybeV4.includes(".")) {
    const v4 = parseIpv4(maybeV4);
    if (v4 === null) return null;
    tailV4 = [v4 >>> 16, v4 & 0xffff];
    head = head.slice(0, lastColon + 1) + "0";
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const parse = (s: string) => (s === "" ? [] : s.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)));
  const left = parse(halves[0]);
  const right = halves.length === 2 ? parse(halves[1]) : [];
  if (tailV4.length) (right.length ? right : left).pop();
  const fixed = [...left, ...right, ...tailV4].length;
  const groups =
    halves.length === 2
      ? [...left, ...new Array(Math.max(0, 8 - fixed)).fill(0), ...right, ...tailV4]
      : [...left, ...tailV4];
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) return null;
  return groups;
}

function ipv6Reason(g: number[]): string | null {
  const zeroPrefix = (n: number) => g.slice(0, n).every((x) => x === 0);
  const embedded = ((g[6] << 16) >>> 0) + g[7];
  if (zeroPrefix(8)) return "unspecified";
  if (zeroPrefix(7) && g[7] === 1) return "loopback";
  // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible) carry an IPv4 address.
  if (zeroPrefix(5) && (g[5] === 0xffff || g[5] === 0)) return ipv4Reason(embedded);
  // ::ffff:0:a.b.c.d (SIIT, RFC 6052's IPv4-translated form) too.
  if (zeroPrefix(4) && g[4] === 0xffff && g[5] === 0) return ipv4Reason(embedded) ?? "IPv4-translated (SIIT)";
  // Translation and tunnel prefixes reach IPv4 hosts we cannot see from the address
  // alone (Teredo obfuscates it, NAT64 gateways may sit inside a network): refused whole.
  // (The embedded IPv4 address's own range is named first, when it has one.)
  if (g[0] === 0x64 && g[1] === 0xff9b) return ipv4Reason(embedded) ?? "NAT64 (IPv4-translated)"; // 64:ff9b::/96, 64:ff9b:1::/48
  if (g[0] === 0x2002) return ipv4Reason(((g[1] << 16) >>> 0) + g[2]) ?? "6to4 (IPv4-tunnelled)";
  if (g[0] === 0x2001 && g[1] === 0) return "Teredo (IPv4-tunnelled)";
  if (g[0] === 0x2001 && g[1] === 0x0db8) return "documentation";
  if ((g[0] & 0xfff0) === 0x3ff0) return "documentation";
  if (g[0] === 0x0100 && g[1] === 0 && g[2] === 0 && g[3] === 0) return "discard-only"; // 100::/64
  if ((g[0] & 0xfe00) === 0xfc00) return "unique local (private)";
  if ((g[0] & 0xffc0) === 0xfe80) return "link-local";
  if ((g[0] & 0xffc0) === 0xfec0) return "site-local";
  if ((g[0] & 0xff00) === 0xff00) return "multicast";
  return null;
}
