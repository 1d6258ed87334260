/** Target url rules, against the WHATWG parser workerd ships. */
import { describe, expect, it } from "vitest";
import { blockedHostReason, checkTargetUrl, type TargetPolicy } from "../../src/core/url-safety";

const httpsOnly: TargetPolicy = { schemes: ["https"], allowInsecure: false };
const httpOrHttps: TargetPolicy = { schemes: ["http", "https"], allowInsecure: false };
const insecure: TargetPolicy = { schemes: ["https"], allowInsecure: true };

function refusedFor(url: string, policy: TargetPolicy = httpsOnly): string {
  const check = checkTargetUrl(url, policy);
  expect(check.ok, `${JSON.stringify(url)} should be refused`).toBe(false);
  return check.ok ? "" : check.rule;
}

function accepted(url: string, policy: TargetPolicy = httpsOnly): URL {
  const check = checkTargetUrl(url, policy);
  expect(check, `${JSON.stringify(url)} should be accepted`).toMatchObject({ ok: true });
  return (check as { ok: true; url: URL }).url;
}

describe("public targets pass", () => {
  it.each([
    "https://example.com/hook",
    "https://8.8.8.8/",
    "https://example.com:8443/a/b?c=d#e",
    "https://[2606:4700:4700::1111]/",
    "https://sub.example.co.uk/hooks/1",
    "https://localhost.example.com/", // only the name localhost and *.localhost are local
    "https://172.32.0.1/", // just outside 172.16/12
    "https://100.128.0.1/", // just outside 100.64/10
    "https://11.0.0.1/",
    "https://192.169.0.1/",
  ])("%s", (url) => {
    expect(accepted(url).href).toBe(new URL(url).href);
  });

  it("http passes for a format that allows it", () => {
    accepted("http://example.com/hook", httpOrHttps);
  });
});

describe("loopback in every spelling the parser accepts", () => {
  it.each([
    "https://127.0.0.1/",
    "https://127.1/",
    "https://127.0.1/",
    "https://0x7f.0.0.1/",
    "https://0x7f.1/",
    "https://0177.0.0.1/",
    "https://2130706433/",
    "https://0x7f000001/",
    "https://127.255.255.254/",
    "https://127.0.0.1./",
    "https://127.0.0.1%2e/",
    "https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/", // fullwidth digits, mapped by IDNA
    "https://127\u30020\u30020\u30021/", // ideographic full stops
    "https://[::1]/",
    "https://[0:0:0:0:0:0:0:1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[0:0:0:0:0:ffff:7f00:0001]/",
    "https://[::127.0.0.1]/",
    "https://127.0.0.1:8443/hook",
  ])("%s", (url) => {
    expect(refusedFor(url)).toMatch(/loopback/);
  });
});

describe("private, link-local, CGNAT, unspecified, multicast and metadata addresses", () => {
  it.each([
    ["https://0.0.0.0/", /unspecified/],
    ["https://0/", /unspecified/],
    ["https://[::]/", /unspecified/],
    ["https://10.0.0.1/", /private/],
    ["https://10.255.255.255/", /private/],
    ["https://012.1/", /private/], // octal 10.0.0.1
    ["https://172.16.0.1/", /private/],
    ["https://172.20.1.1/", /private/],
    ["https://172.31.255.255/", /private/],
    ["https://192.168.0.1/", /private/],
    ["https://192.168.255.255/", /private/],
    ["https://0xc0a80001/", /private/],
    ["https://[::ffff:192.168.1.1]/", /private/],
    ["https://[::ffff:a00:1]/", /private/],
    ["https://100.64.0.1/", /CGNAT/],
    ["https://100.127.255.255/", /CGNAT/],
    ["https://169.254.169.254/", /link-local/],
    ["https://169.254.0.1/", /link-local/],
    ["https://[::ffff:169.254.169.254]/", /link-local/],
    ["https://[::ffff:a9fe:a9fe]/", /link-local/],
    ["https://[fc00::1]/", /unique local/],
    ["https://[fd12::1]/", /unique local/],
    ["https://[fd00:ec2::254]/", /unique local/], // the EC2 IPv6 metadata address
    ["https://[fe80::1]/", /link-local/],
    ["https://[febf::1]/", /link-local/],
    ["https://224.0.0.1/", /multicast/],
    ["https://239.255.255.250/", /multicast/],
    ["https://[ff02::1]/", /multicast/],
    ["https://255.255.255.255/", /broadcast/],
    ["https://240.0.0.1/", /reserved/],
    ["https://198.18.0.1/", /benchmarking/],
    ["https://198.19.255.255/", /benchmarking/],
    ["https://192.0.2.1/", /documentation/],
    ["https://198.51.100.7/", /documentation/],
    ["https://203.0.113.9/", /documentation/],
    ["https://192.88.99.1/", /6to4 relay/],
    ["https://[::ffff:0:7f00:1]/", /loopback/], // SIIT form of 127.0.0.1
    ["https://[::ffff:0:127.0.0.1]/", /loopback/],
    ["https://[::ffff:0:808:808]/", /SIIT/], // even a public IPv4 through SIIT
    ["https://[64:ff9b::7f00:1]/", /loopback/],
    ["https://[64:ff9b::808:808]/", /NAT64/],
    ["https://[64:ff9b:1::a00:1]/", /private/],
    ["https://[64:ff9b:1::808:808]/", /NAT64/],
    ["https://[2002:7f00:1::]/", /loopback/],
    ["https://[2002:808:808::1]/", /6to4/],
    ["https://[2001::53aa:64c:0:0]/", /Teredo/],
    ["https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/", /Teredo/],
    ["https://[2001:db8::1]/", /documentation/],
    ["https://[3fff::1]/", /documentation/],
    ["https://[100::1]/", /discard-only/],
  ] as const)("%s", (url, rule) => {
    expect(refusedFor(url)).toMatch(rule);
  });
});

describe("local and metadata names", () => {
  it.each([
    "https://localhost/",
    "https://localhost:8787/hook",
    "https://LOCALHOST/",
    "https://LOCALHOST./",
    "https://localhost./",
    "https://localhost../",
    "https://foo.localhost/",
    "https://foo.localhost./",
    "https://a.b.LocalHost/",
    "https://local%68ost/", // percent-decoded by the parser
    "https://local\u00adhost/", // a soft hyphen, ignored by IDNA
    "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/", // fullwidth letters
    "https://localhost.localdomain/",
    "https://LOCALHOST.LOCALDOMAIN./",
    "https://ip6-localhost/",
    "https://ip6-localhost./",
    "https://metadata.google.internal/",
    "https://METADATA.google.internal./computeMetadata/v1/",
  ])("%s", (url) => {
    expect(refusedFor(url)).toMatch(/local or metadata host/);
  });
});

describe("credentials, schemes and control characters", () => {
  it.each([
    "https://user:pass@example.com/",
    "https://user@example.com/",
    "https://:pass@example.com/",
    "https://example.com:443@evil.example/",
    "https://user%40x:p@example.com/",
  ])("credentials: %s", (url) => {
    expect(refusedFor(url)).toMatch(/credentials/);
  });

  it.each([
    "ftp://example.com/file",
    "javascript:alert(1)",
    "file:///etc/passwd",
    "data:text/plain,hello",
    "ws://example.com/",
    "wss://example.com/",
    "gopher://example.com/",
    "JAVASCRIPT:alert(1)",
  ])("scheme: %s", (url) => {
    expect(refusedFor(url)).toMatch(/scheme \w+: is not allowed/);
  });

  it.each([
    "https://example.com/ho ok",
    " https://example.com/hook",
    "https://example.com/hook ",
    "https://example.com/\thook",
    "https://exa\tmple.com/",
    "https://example.com/\nhook",
    "https://local\nhost/",
    "https://example.com/\rhook",
    "https://example.com/\u0000",
    "https://example.com/\u0007",
    "https://example.com/\u007f",
    "https://example.com/\u0085",
    "https://example.com/\u009f",
  ])("whitespace or control character: %j", (url) => {
    expect(refusedFor(url)).toMatch(/whitespace or control/);
  });

  it("refuses what is not an absolute url, and overlong urls", () => {
    expect(refusedFor("example.com/hook")).toMatch(/absolute/);
    expect(refusedFor("/hook")).toMatch(/absolute/);
    expect(refusedFor("")).toMatch(/absolute/);
    expect(refusedFor("https://exa mple.com/")).toMatch(/whitespace/);
    expect(refusedFor("https://[::1/")).toMatch(/absolute/);
    expect(refusedFor(`https://example.com/${"a".repeat(2048)}`)).toMatch(/longer than 2048/);
  });
});

describe("the format's scheme rule", () => {
  it("refuses http when the format needs https", () => {
    expect(refusedFor("http://example.com/hook", httpsOnly)).toMatch(/requires https/);
    expect(refusedFor("HTTP://example.com/hook", httpsOnly)).toMatch(/requires https/);
  });

  it("checks the address after the scheme for formats that allow http", () => {
    expect(refusedFor("http://127.0.0.1/", httpOrHttps)).toMatch(/loopback/);
    expect(refusedFor("http://localhost:8080/", httpOrHttps)).toMatch(/local/);
  });

  it("ALLOW_INSECURE_TARGETS lifts the https rule", () => {
    accepted("http://example.com/hook", insecure);
  });
});

describe("ALLOW_INSECURE_TARGETS", () => {
  it.each([
    "http://127.0.0.1:8787/hook",
    "http://localhost:9000/",
    "https://[::1]/",
    "http://10.0.0.1/",
    "http://169.254.169.254/",
    "http://metadata.google.internal/",
  ])("lifts the address rules: %s", (url) => {
    accepted(url, insecure);
  });

  it.each([
    ["http://user:pass@127.0.0.1/", /credentials/],
    ["https://user@example.com/", /credentials/],
    ["ftp://127.0.0.1/", /scheme ftp:/],
    ["javascript:alert(1)", /scheme javascript:/],
    ["file:///etc/passwd", /scheme file:/],
    ["http://127.0.0.1/\nhook", /control/],
    ["http://local host/", /whitespace/],
  ] as const)("still refuses %j", (url, rule) => {
    expect(refusedFor(url, insecure)).toMatch(rule);
  });
});

describe("blockedHostReason on parser-normalized hostnames", () => {
  it("names the range", () => {
    expect(blockedHostReason("127.0.0.1")).toMatch(/loopback/);
    expect(blockedHostReason("[::ffff:7f00:1]")).toMatch(/loopback/);
    expect(blockedHostReason("[64:ff9b::7f00:1]")).toMatch(/loopback/); // NAT64
    expect(blockedHostReason("[2002:7f00:1::]")).toMatch(/loopback/); // 6to4
    expect(blockedHostReason("example.com")).toBeNull();
    expect(blockedHostReason("[2606:4700::1111]")).toBeNull();
    expect(blockedHostReason("8.8.8.8")).toBeNull();
  });
});
