/**
 * `deno task serve:node`: the serve application under Node, through the
 * `@hono/node-server` fetch adapter. The task bundles it first
 * (`deno bundle`), so that plain `node` runs it with no `node_modules`.
 *
 * @module
 */
import { serve } from "@hono/node-server";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { runServe } from "../src/server/serve.ts";

await runServe({
  runtime: `node ${process.version}`,
  args: process.argv.slice(2),
  env: process.env,
  pid: process.pid,
  listen: (fetch, { host, port }) =>
    new Promise((resolve) => {
      const server = serve({
        fetch: (request, env: { incoming?: { socket?: { remoteAddress?: string } } }) =>
          fetch(request, { remoteAddr: { hostname: env.incoming?.socket?.remoteAddress } }),
        hostname: host,
        port,
      }, (info: AddressInfo) =>
        resolve({
          hostname: host,
          port: info.port,
          close: () => new Promise((done) => server.close(() => done())),
        }));
    }),
  onSignal: (signal, listener) => process.on(signal, listener),
  exit: (code) => process.exit(code),
});
