/** What a failed attempt tells a person, and how much of a receiver's headers the log keeps. */
import { describe, expect, it } from "vitest";
import { cappedHeaders, networkError, RESPONSE_HEADERS_LIMIT } from "../../src/core/attempt-errors";

describe("network errors name the host and what happened", () => {
  it("a refused or reset connection (workerd says only 'Network connection lost.')", () => {
    expect(networkError(new URL("http://127.0.0.1:9/hook"), new Error("Network connection lost."))).toBe(
      "could not connect to 127.0.0.1:9: the connection was refused or closed before an answer",
    );
  });

  it("a name that does not resolve (workerd says 'internal error; reference = ...')", () => {
    const error = networkError(new URL("http://foo.example.com/hook"), new Error("internal error; reference = 5rbgvh6d74g43eaelbcoe7gs"));
    expect(error).toMatch(/^could not connect to foo\.example\.com: the host name does not resolve/);
    expect(error).not.toContain("reference");
  });

  it("anything else keeps the runtime's words after the host", () => {
    expect(networkError("https://hooks.example.com:8443/x", "TLS handshake failed")).toBe(
      "could not connect to hooks.example.com:8443: TLS handshake failed",
    );
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
