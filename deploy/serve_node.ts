/**
 * `deno task serve:node`: the serve application under Node, through the
 * `@hono/node-server` fetch adapter. The task bundles it first
 * (`deno bundle`), so that plain `node` runs it with no `node_modules`.
 *
 * Node's HTTP server applies the limits: `headersTimeout` closes a
 * connection that has not sent its request head in `HEADER_TIMEOUT`
 * seconds, and `maxConnections` closes the connections over the cap at once.
 *
 * @module
 */
import { serve } from "@hono/node-server";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import process from "node:process";
import { runServe } from "../src/server/serve.ts";
import { processHost } from "./process_host.ts";

await runServe({
  ...processHost(`node ${process.version}`),
  appliesHeaderTimeout: true,
  listen: (fetch, { host, port, maxConnections, headerTimeout }) =>
    new Promise((resolve) => {
      const server = serve({
        fetch: (request, env: { incoming?: { socket?: { remoteAddress?: string } } }) =>
          fetch(request, { remoteAddr: { hostname: env.incoming?.socket?.remoteAddress } }),
        hostname: host,
        port,
        serverOptions: {
          headersTimeout: headerTimeout * 1000,
          // How often Node looks for connections past the header timeout.
          connectionsCheckingInterval: Math.min(30_000, Math.max(250, headerTimeout * 250)),
        },
      }, (info: AddressInfo) =>
        resolve({
          hostname: host,
          port: info.port,
          close: () => _close(server as Server),
        }));
      if (maxConnections !== undefined) server.maxConnections = maxConnections;
    }),
});

/**
 * Stops accepting, and resolves once every connection is closed. Node keeps
 * a connection open for 5 s after its last answer (`keepAliveTimeout`) and
 * serves new requests on it meanwhile, so `close()` alone would outlive the
 * drain by 5 s, or for ever behind a proxy that reuses its connections. So
 * from now on every answer closes its connection, and a connection whose
 * held poll the drain has answered is closed within 50 ms.
 */
function _close(server: Server): Promise<void> {
  server.prependListener("request", (_request, response) => {
    response.setHeader("Connection", "close");
  });
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  return new Promise((done) =>
    server.close(() => {
      clearInterval(sweep);
      done();
    })
  );
}
