/** What a failed attempt tells a person, and how much of a receiver's headers the log keeps. */
import { describe, expect, it } from "vitest";
import { answerError, cappedHeaders, networkError, NO_PROBE, RESPONSE_HEADERS_LIMIT } from "../../src/core/attempt-errors";
import { formats } from "../../src/core/formats";
import { retryAfter } from "../../src/core/receiver-signals";

const INTERNAL = new Error("internal error; reference = 5rbgvh6d74g43eaelbcoe7gs");
const LOST = new Error("Network connection lost.");

describe("network errors name the host and what happened (workerd's words, told apart by a probe)", () => {
  it("a name that does not resolve: workerd's opaque internal error, and no TCP connection either", () => {
    const error = networkError(new URL("http://foo.example.com/hook"), INTERNAL, { tcp: "failed", tls: "unknown" });
    expect(error).toBe("foo.example.com does not resolve: DNS has no address for it (check the host name in the subscription's url)");
  });

  it("a refused connection: 'Network connection lost.' and the port does not open", () => {
    expect(networkError(new URL("http://127.0.0.1:9/hook"), LOST, { tcp: "failed", tls: "unknown" })).toBe(
      "127.0.0.1:9 refused the connection: nothing accepts connections on port 9 (is the receiver running?)",
    );
  });

  it("a connection closed before the answer: 'Network connection lost.' and the port opens", () => {
    expect(networkError(new URL("http://hooks.example.com/x"), LOST, { tcp: "open", tls: "unknown" })).toBe(
      "hooks.example.com closed the connection before answering",
    );
  });

  it("a TLS failure: TCP opens, TLS does not", () => {
    expect(networkError(new URL("https://hooks.example.com:8443/x"), INTERNAL, { tcp: "open", tls: "failed" })).toBe(
      "the TLS handshake with hooks.example.com:8443 failed: its certificate is not trusted or not for this host name, or it does not speak TLS on port 8443",
    );
  });

  it("an answer that is not HTTP: both connections open", () => {
    expect(networkError(new URL("https://hooks.example.com/x"), INTERNAL, { tcp: "open", tls: "ok" })).toBe(
      "hooks.example.com answered with something that is not HTTP",
    );
    expect(networkError(new URL("http://10.0.0.1:8080/x"), INTERNAL, { tcp: "open", tls: "unknown" })).toBe(
      "10.0.0.1:8080 answered with something that is not HTTP",
    );
  });

  it("never the runtime's opaque reference, even without a probe", () => {
    for (const url of ["http://foo.example.com/hook", "https://[::1]:9/x", "not a url"]) {
      const error = networkError(url, INTERNAL, NO_PROBE);
      expect(error).not.toMatch(/reference|internal error/);
    }
    expect(networkError("http://[::1]:9/x", INTERNAL, { tcp: "failed", tls: "unknown" })).toBe("could not connect to [::1]:9");
  });

  it("anything else keeps the runtime's words after the host", () => {
    expect(networkError("https://hooks.example.com:8443/x", "TLS handshake failed")).toBe(
      "could not connect to hooks.example.com:8443: TLS handshake failed",
    );
  });
});

describe("answers that are failures say what they mean", () => {
  const answer = (status: number, extra: Partial<Parameters<typeof answerError>[1]> = {}) =>
    answerError("hooks.example.com", { status, location: null, body: "", refusal: null, retryAfter: null, ...extra });

  it("a redirect names where it points", () => {
    expect(answer(301, { location: "https://new.example.com/hook" })).toBe(
      "hooks.example.com answered 301 Moved Permanently, a redirect to https://new.example.com/hook: redirects are not followed (point the subscription at the new url if the endpoint moved)",
    );
    expect(answer(307)).toContain("a redirect without a Location");
  });

  it("a body the format refused says what the format counts as success", () => {
    const smartshape = formats.smartshape;
    const summary = { status: 200, contentType: "text/plain", body: '{"success": true}' };
    expect(smartshape.isSuccess(summary)).toBe(false);
    expect(answer(200, { refusal: smartshape.refusal!(summary) })).toBe(
      'hooks.example.com answered 200, not a success for this format: SmartShape counts only 200 with an application/json body {"success": true}, and this answer\'s content-type is "text/plain"',
    );
    expect(smartshape.refusal!({ status: 200, contentType: "application/json", body: '{"success": "true"}' })).toMatch(/"success" is "true"$/);
    expect(smartshape.refusal!({ status: 200, contentType: "application/json", body: "" })).toMatch(/this body is not JSON$/);
    expect(smartshape.refusal!({ status: 201, contentType: "application/json", body: '{"success": true}' })).toMatch(/not status 201$/);
    expect(smartshape.refusal!({ status: 200, contentType: "application/json; charset=utf-8", body: '{"success": true}' })).toBeNull();
  });

  it("Cloudflare's own 52x and 530 answers are named for what they mean", () => {
    expect(answer(521)).toBe("hooks.example.com answered 521: Cloudflare: the origin server refused the connection (web server is down)");
    expect(answer(522)).toContain("did not accept the connection in time");
    expect(answer(524)).toContain("did not answer within 100 s");
    expect(answer(525)).toContain("TLS handshake with the origin server failed");
    expect(answer(526)).toContain("TLS certificate is not valid");
    expect(answer(530, { body: "error code: 1016" })).toBe(
      "hooks.example.com answered 530: Cloudflare: the host name does not resolve (origin DNS error 1016)",
    );
    expect(answer(530, { body: "error code: 1033" })).toContain("tunnel to the origin is down");
    expect(answer(530, { body: "error code: 1999" })).toContain("(error 1999)");
    for (const status of [520, 523, 527]) expect(answer(status)).toMatch(/: Cloudflare: /);
  });

  it("a Retry-After shows the wait the receiver asked for", () => {
    expect(answer(429, { retryAfter: retryAfter(429, "3", 0) })).toBe(
      "hooks.example.com answered 429 Too Many Requests: the receiver is rate limiting (a throttle_rate on the subscription keeps under its limit); it asked to wait 3 s (Retry-After: 3): any next attempt waits at least that long",
    );
    expect(answer(503, { retryAfter: retryAfter(503, "86400", 0) })).toContain(
      "it asked to wait 86400 s (Retry-After: 86400): any next attempt waits 3600 s, the longest Hookline waits",
    );
  });

  it("410, 404, 401 and a plain 500 say what to check", () => {
    expect(answer(410)).toBe("hooks.example.com answered 410 Gone: the receiver says this endpoint is gone for good");
    expect(answer(404)).toContain("check the subscription's url");
    expect(answer(401)).toContain("current secret");
    expect(answer(500)).toContain("failed on its side");
    expect(answer(418)).toBe("hooks.example.com answered 418: the receiver refused the request");
  });
});

describe("response headers are capped like the body", () => {
  it("keeps small headers whole, in order", () => {
    const headers = new Headers({ "content-type": "application/json", "x-request-id": "abc" });
    expect(cappedHeaders(headers)).toEqual({ "content-type": "application/json", "x-request-id": "abc" });
  });

  it("leaves out the connection's own headers and date, which say nothing of the receiver's answer", () => {
    const headers = new Headers({
      connection: "keep-alive", "keep-alive": "timeout=60", "transfer-encoding": "chunked", date: "Tue, 01 Dec 2026 12:31:21 GMT",
      "content-type": "application/json", "retry-after": "3",
    });
    expect(cappedHeaders(headers)).toEqual({ "content-type": "application/json", "retry-after": "3" });
  });

  it("a 120 KB header is cut so that names and values stay within the limit", () => {
    const headers = new Headers({ "a-first": "kept", "x-huge": "h".repeat(120_000), "z-after": "dropped" });
    const kept = cappedHeaders(headers);
    expect(kept["a-first"]).toBe("kept");
    expect(kept["x-huge"]).toBe("h".repeat(RESPONSE_HEADERS_LIMIT - "a-first".length - "kept".length - "x-huge".length));
    expect(kept).not.toHaveProperty("z-after");
    const size = Object.entries(kept).reduce((n, [k, v]) => n + k.length + v.length, 0);
    expect(size).toBe(RESPONSE_HEADERS_LIMIT);
  });
});
