/**
 * A listen session's subscriptions stay outside the plan's cap, so no face may turn one
 * into an ordinary subscription: its url, format, filters, secret and existence belong to
 * the session. Only `active` may be toggled.
 */
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { deliveryWithAttempts, emit, receiverUrl, received, waitFor } from "./delivery-harness";
import { BASE, call, createAccount, createSubscription, expectProblem } from "./harness";

async function fullAccountWithSession(format = "standard", eventType = "document.updated") {
  const account = await createAccount("pro");
  for (let i = 0; i < 3; i++) await createSubscription(account.key);
  const opened = await call("POST", "/v1/listen", { token: account.key, body: { event_types: [eventType], format } });
  expect(opened.status, opened.text).toBe(201);
  return { ...account, session: opened.json.id as string, sub: opened.json.subscriptions[0] };
}

/** The refusal names the session and how it ends. */
function expectListenRefusal(res: Awaited<ReturnType<typeof call>>, session: string) {
  const problem = expectProblem(res, 403);
  expect(problem.detail).toContain(`belongs to the webhook listen session ${session}`);
  expect(problem.detail).toContain(`DELETE /v1/listen/${session}`);
  return problem;
}

describe("listen subscriptions cannot be changed through the faces", () => {
  it("/v1 refuses to retarget, reformat, refilter, rotate or delete one, and nothing reaches the url it was PATCHed to", async () => {
    const { id: accountId, key, session, sub } = await fullAccountWithSession();
    const target = receiverUrl("ok");
    const retarget = expectListenRefusal(await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { url: target.url } }), session);
    expect(retarget.detail).toContain("its url cannot be changed");
    expect(retarget.errors).toEqual([{ path: "url", message: `cannot be changed: the subscription belongs to the webhook listen session ${session}` }]);
    const several = expectListenRefusal(
      await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { format: "clara", event_types: ["*"], active: true } }),
      session,
    );
    expect(several.errors!.map((e) => e.path)).toEqual(["event_types", "format"]);
    expectListenRefusal(await call("POST", `/v1/subscriptions/${sub.id}/rotate-secret`, { token: key }), session);
    expect(expectListenRefusal(await call("DELETE", `/v1/subscriptions/${sub.id}`, { token: key }), session).detail).toContain(
      "cannot be deleted on its own",
    );

    const after = await call("GET", `/v1/subscriptions/${sub.id}`, { token: key });
    expect(after.json).toMatchObject({ url: `listen://${session}`, format: "standard", event_types: ["document.updated"] });
    // An event still goes to the session (no listener: a 503 attempt), never to the url.
    const event = await emit(accountId, "document.updated");
    await waitFor("an attempt to the session", async () => {
      const ev = await call("GET", `/v1/events/${event.id}`, { token: key });
      const mine = ev.json.deliveries.find((d: any) => d.subscription_id === sub.id);
      return mine && (await deliveryWithAttempts(mine.id, key)).attempts.length > 0;
    });
    expect(await received(target.key)).toEqual([]);
  });

  it("/v1 may switch one off and on again, and nothing else changes", async () => {
    const { key, session, sub } = await fullAccountWithSession();
    const off = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: false } });
    expect(off.status, off.text).toBe(200);
    expect(off.json).toMatchObject({ active: false, url: `listen://${session}` });
    const on = await call("PATCH", `/v1/subscriptions/${sub.id}`, { token: key, body: { active: true } });
    expect(on.json).toMatchObject({ active: true, url: `listen://${session}` });
  });

  it("the Clara face neither lists nor changes nor deletes a clara listen subscription", async () => {
    const { name, key, session, sub } = await fullAccountWithSession("clara", "export.ok");
    const basic: [string, string] = [name, key];
    expect((await call("GET", "/api/webhooks", { basic })).json).toEqual([]);
    const put = await call("PUT", `/api/webhooks/${sub.id}`, { basic, body: { url: "https://example.com/mine" } });
    expect(expectListenRefusal(put, session).errors!.map((e) => e.path)).toEqual(["url"]);
    expectListenRefusal(await call("PUT", `/api/webhooks/${sub.id}`, { basic, body: { jobTypes: ["import"] } }), session);
    expectListenRefusal(await call("DELETE", `/api/webhooks/${sub.id}`, { basic }), session);
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.url).toBe(`listen://${session}`);
  });

  it("the SmartShape face neither lists nor deletes one, and creating past the cap is still the plan's 403", async () => {
    const { key, session, sub } = await fullAccountWithSession("smartshape", "attribute_updated");
    expect((await call("GET", "/webhook/", { token: key })).json).toEqual([]);
    expectListenRefusal(await call("DELETE", `/webhook/${sub.id}`, { token: key }), session);
    const create = await call("PUT", "/webhook/", {
      token: key,
      body: { event: "attribute_updated", url: "https://example.com/hook", secretToken: "my-secret-token" },
    });
    expect(expectProblem(create, 403).title).toBe("Plan limit reached");
  });

  it("the dashboard's edit and delete forms are refused with the reason", async () => {
    const { key, session, sub } = await fullAccountWithSession();
    const post = async (path: string, fields: Record<string, string>, cookie?: string) => {
      const headers: Record<string, string> = { "content-type": "application/x-www-form-urlencoded" };
      if (cookie) headers.cookie = cookie;
      const res = await exports.default.fetch(
        new Request(BASE + path, { method: "POST", body: new URLSearchParams(fields), headers, redirect: "manual" }),
      );
      return { status: res.status, headers: res.headers, text: await res.text() };
    };
    const login = await post("/dashboard/login", { key });
    expect(login.status).toBe(303);
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    const getPage = async (path: string) =>
      (await exports.default.fetch(new Request(BASE + path, { headers: { cookie }, redirect: "manual" }))).text();
    const csrf = (await getPage(`/dashboard/subscriptions/${sub.id}/edit`)).match(/name="_csrf" value="([^"]+)"/)![1];
    const edit = await post(
      `/dashboard/subscriptions/${sub.id}`,
      { _csrf: csrf, url: "https://example.com/mine", event_types: "document.updated", format: "standard", subjects: "", description: "" },
      cookie,
    );
    expect(edit.status).toBe(403);
    expect(edit.text).toContain(`cannot be changed: the subscription belongs to the webhook listen session ${session}`);
    const del = await post(`/dashboard/subscriptions/${sub.id}/delete`, { _csrf: csrf, confirmed: "1" }, cookie);
    expect(del.status).toBe(403);
    expect(del.text).toContain("cannot be deleted on its own");
    expect((await call("GET", `/v1/subscriptions/${sub.id}`, { token: key })).json.url).toBe(`listen://${session}`);
  });
});
