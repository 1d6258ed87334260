/** The consumer side of the service binding: POST /emit, /emit-batch or /fetch with a JSON body. */
interface HooklineRpc {
  emit(event: unknown): Promise<{ data: { id: string; deliveries: number }[] }>;
  emitBatch(events: unknown[]): Promise<{ data: { id: string; deliveries: number }[] }>;
}

interface Env {
  HOOKLINE: Fetcher & HooklineRpc;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const path = new URL(request.url).pathname;
    const body = (await request.json()) as any;
    try {
      if (path === "/emit") return Response.json(await env.HOOKLINE.emit(body));
      if (path === "/emit-batch") return Response.json(await env.HOOKLINE.emitBatch(body));
      if (path === "/fetch") {
        // The REST API through the binding: same route, same operator token as over the internet.
        return env.HOOKLINE.fetch("https://hookline/v1/events", {
          method: "POST",
          headers: { "content-type": "application/json", authorization: request.headers.get("authorization") ?? "" },
          body: JSON.stringify(body),
        });
      }
    } catch (err) {
      return Response.json({ error: err instanceof Error ? err.message : String(err) }, { status: 400 });
    }
    return new Response("not found", { status: 404 });
  },
};
