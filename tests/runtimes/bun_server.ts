/**
 * Serves the long-poll handler under Bun with `Bun.serve`, which takes the
 * fetch handler as it is. Run it bundled (`deno bundle`), so that Bun needs
 * no `node_modules` and does not try to install `redis` on its own.
 *
 * Prints `listening <port>` once up; drains on SIGTERM and exits 0.
 *
 * @module
 */
import process from "node:process";
import { createRuntimeApp } from "./_app.ts";

/** The part of Bun's API this runner uses. */
declare const Bun: {
  readonly version: string;
  serve(options: {
    fetch: (request: Request) => Promise<Response>;
    hostname: string;
    port: number;
    idleTimeout: number;
  }): { readonly port: number; stop(closeActive?: boolean): Promise<void> };
};

const app = await createRuntimeApp(process.env);
const server = Bun.serve({
  fetch: app.fetch,
  hostname: "127.0.0.1",
  port: Number(process.env.PORT ?? 0),
  // Bun closes a request after 10 s of silence by default, which would cut
  // long holds; 0 turns that off, as a long-poll server needs.
  idleTimeout: 0,
});
console.log(`listening ${server.port} bun ${Bun.version}`);

process.on("SIGTERM", async () => {
  await app.stop();
  await server.stop();
  process.exit(0);
});
