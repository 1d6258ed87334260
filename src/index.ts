/** The Worker's handlers and exported classes, nothing else. */
import { z } from "@hono/zod-openapi";
import { WorkerEntrypoint } from "cloudflare:workers";
import { validationProblem } from "./api/context";
import { app } from "./app";
import { loadConfig } from "./config";
import { handleDeliveryBatch } from "./delivery/consumer";
import { sweep } from "./delivery/sweep";
import { emitEvents } from "./services/emit";
import { EmitEvent, type EmitEventInput, type EmitResultBody, MAX_BATCH } from "./services/emit-schema";
import type { DeliveryMessage } from "./services/enqueue";
import { count, instrument, sweepClock } from "./metrics";
import { allShards, shardOfQueue } from "./db/shards";
import { reconcileCatalog } from "./services/catalog";
import { replicateOperationalWebhooks } from "./services/operational-webhooks";

export { SubscriptionHealth } from "./delivery/health";
export { ListenSession } from "./delivery/listen";
export { AccountMove } from "./delivery/account-move";

const EmitBatch = z.array(EmitEvent).min(1).max(MAX_BATCH);

/**
 * Other Workers bind to this entrypoint: `env.HOOKLINE.emit(event)` and
 * `emitBatch(events)` do what POST /v1/events does (the binding is the credential),
 * and `env.HOOKLINE.fetch(...)` reaches the REST API as over the internet.
 */
export default class Hookline extends WorkerEntrypoint<Env> {
  fetch(request: Request): Response | Promise<Response> {
    count("invocations", "fetch");
    return app.fetch(request, instrument(this.env, "fetch"), this.ctx);
  }

  queue(batch: MessageBatch<DeliveryMessage>): Promise<void> {
    count("invocations", "queue");
    // Each shard has its own queue: the batch's queue says whose deliveries these are.
    return handleDeliveryBatch(batch, shardOfQueue(instrument(this.env, "queue"), batch.queue));
  }

  async scheduled(): Promise<void> {
    count("invocations", "scheduled");
    const env = instrument(this.env, "scheduled");
    const now = sweepClock();
    // Every shard swept at once: a slow or failing one holds back only its own accounts.
    const swept = await Promise.allSettled([
      ...allShards(env).map((shard) => sweep(shard, now)),
      reconcileCatalog(env),
      replicateOperationalWebhooks(env),
    ]);
    const failed = swept.find((s): s is PromiseRejectedResult => s.status === "rejected");
    if (failed) throw failed.reason;
  }

  async emit(event: EmitEventInput): Promise<EmitResultBody> {
    const parsed = EmitEvent.safeParse(event);
    if (!parsed.success) throw rpcError(validationProblem(parsed.error));
    return this.run([parsed.data], false);
  }

  async emitBatch(events: EmitEventInput[]): Promise<EmitResultBody> {
    const parsed = EmitBatch.safeParse(events);
    if (!parsed.success) throw rpcError(validationProblem(parsed.error, "events"));
    return this.run(parsed.data, true);
  }

  private async run(events: EmitEventInput[], batch: boolean): Promise<EmitResultBody> {
    count("invocations", "rpc");
    const env = instrument(this.env, "rpc");
    try {
      return (await emitEvents(env, loadConfig(env), events, { batch })).body;
    } catch (err) {
      throw rpcError(err);
    }
  }
}

/** RPC carries an Error's message across: make it the problem's detail, prefixed with its status. */
function rpcError(err: unknown): Error {
  if (err && typeof err === "object" && "toBody" in err && typeof err.toBody === "function") {
    const body = err.toBody() as { status: number; title: string; detail: string };
    return new Error(`${body.status} ${body.title}: ${body.detail}`);
  }
  return err instanceof Error ? err : new Error(String(err));
}
