import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/schema.ts",
  // The data folder; tables only the control database has go to migrations/control by hand (migrations/README.md).
  out: "./migrations/data",
});
