/**
 * Serves the long-poll handler under Node through the `@hono/node-server`
 * fetch adapter. Run it bundled: `deno bundle` turns it into one file that
 * plain `node` runs with no `node_modules`.
 *
 * Prints `listening <port>` once up; drains on SIGTERM and exits 0.
 *
 * @module
 */
import { serve } from "@hono/node-server";
import process from "node:process";
import { createRuntimeApp } from "./_app.ts";

const app = await createRuntimeApp(process.env);
const server = serve({
  fetch: app.fetch,
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
}, (info) => console.log(`listening ${info.port} node ${process.version}`));

process.on("SIGTERM", async () => {
  await app.stop();
  server.close(() => process.exit(0));
});
