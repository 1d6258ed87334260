/** `deliveries`: the delivery log, /v1/deliveries: list, inspect, redeliver. */
import { type Command, Option } from "commander";
import { keyValues, table, write } from "../output";
import { action, present, request, showOne, showPage } from "./action";
import { deliveryColumns, statusColor } from "./columns";
import { DELIVERY_STATUSES, type DeliveryStatus, positiveInt } from "./option-parsers";

export function registerDeliveries(program: Command): void {
  const deliveries = program.command("deliveries").description("the delivery log: list, inspect, redeliver");

  deliveries
    .command("list")
    .description("a subscription's deliveries, newest first")
    .requiredOption("--subscription <id>", "the subscription")
    .addOption(new Option("--status <status>").choices(DELIVERY_STATUSES))
    .option("--limit <n>", "how many (1-100)", positiveInt)
    .option("--cursor <cursor>")
    .action(
      action(async (o: { subscription: string; status?: DeliveryStatus; limit?: number; cursor?: string }, cmd: Command) => {
        await showPage(
          cmd,
          (client) =>
            client.GET("/v1/subscriptions/{id}/deliveries", {
              params: { path: { id: o.subscription }, query: { status: o.status, limit: o.limit, cursor: o.cursor } },
            }),
          deliveryColumns,
          "no deliveries",
        );
      }),
    );

  deliveries
    .command("get")
    .description("show a delivery and its attempts")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        const delivery = await request(cmd, (client) => client.GET("/v1/deliveries/{id}", { params: { path: { id } } }));
        present(cmd, delivery, ({ attempts, ...rest }) => {
          write(keyValues(rest));
          if (attempts.length === 0) return;
          write(
            "\n" +
              table(attempts, [
                { header: "#", value: (a) => a.number },
                { header: "started", value: (a) => a.started_at },
                { header: "ms", value: (a) => a.duration_ms },
                { header: "outcome", value: (a) => a.outcome, color: (a, c, t) => statusColor(a.outcome, c, t) },
                { header: "status", value: (a) => a.status_code },
                { header: "error", value: (a) => a.error, max: 50 },
              ]),
          );
        });
      }),
    );

  deliveries
    .command("redeliver")
    .description("send a finished delivery again (same webhook-id, a fresh series of attempts)")
    .argument("<id>")
    .action(
      action(async (id: string, _o: unknown, cmd: Command) => {
        await showOne(cmd, (client) => client.POST("/v1/deliveries/{id}/redeliver", { params: { path: { id } } }));
      }),
    );
}
