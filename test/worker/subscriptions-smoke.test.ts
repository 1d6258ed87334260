import { describe, expect, it } from "vitest";
import { call, createAccount, createSubscription, expectProblem } from "./harness";

describe("subscriptions (smoke)", () => {
  it("creates one with a generated whsec_ secret and lists it", async () => {
    const { key } = await createAccount();
    const sub = await createSubscription(key);
    expect(sub.id).toMatch(/^sub_/);
    expect(sub.secret).toMatch(/^whsec_/);
    const list = await call("GET", "/v1/subscriptions", { token: key });
    expect(list.json.data.map((s: any) => s.id)).toEqual([sub.id]);
    expect(list.json.data[0].secret).toBeUndefined();
  });

  it("refuses a 4th subscription on pro with a 403 naming the plan and limit", async () => {
    const { key } = await createAccount("pro");
    for (let i = 0; i < 3; i++) await createSubscription(key);
    const res = await call("POST", "/v1/subscriptions", {
      token: key,
      body: { url: "https://example.com/hook", event_types: ["*"] },
    });
    const p = expectProblem(res, 403);
    expect(p.detail).toContain("pro");
    expect(p.detail).toContain("3");
  });
});
