/** The Worker's handlers and exported classes, nothing else. */
import { app } from "./app";

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
