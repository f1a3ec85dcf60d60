/**
 * `deno task serve:bun`: the serve application under Bun (`Bun.serve`).
 * The task bundles it first (`deno bundle`), so that Bun needs no
 * `node_modules` and installs nothing on its own.
 *
 * `Bun.serve` (Bun 1.x) has no header timeout and no connection cap; when
 * the process runs out of file descriptors it goes on serving the
 * connections it has and accepts again once some close.
 *
 * @module
 */
import { runServe } from "../src/server/serve.ts";
import { processHost } from "./process_host.ts";

/** The part of Bun's API this entry uses. */
declare const Bun: {
  readonly version: string;
  serve(options: {
    fetch: (request: Request, server: BunServer) => Response | Promise<Response>;
    hostname: string;
    port: number;
    reusePort: boolean;
    idleTimeout: number;
  }): BunServer;
};

interface BunServer {
  readonly hostname: string;
  readonly port: number;
  stop(closeActive?: boolean): Promise<void>;
  requestIP(request: Request): { address: string } | null;
}

/** The connection of a request; its peer address is looked up only when a route asks. */
class _Connection {
  readonly #request: Request;
  readonly #server: BunServer;

  constructor(request: Request, server: BunServer) {
    this.#request = request;
    this.#server = server;
  }

  get remoteAddr(): { hostname?: string } {
    return { hostname: this.#server.requestIP(this.#request)?.address };
  }
}

await runServe({
  ...processHost(`bun ${Bun.version}`),
  appliesHeaderTimeout: false,
  listen: (fetch, { host, port, reusePort }) => {
    const server = Bun.serve({
      fetch: (request, bun) => fetch(request, new _Connection(request, bun)),
      hostname: host,
      port,
      reusePort,
      // Bun closes a request after 10 s of silence by default, which would
      // cut long holds; 0 turns that off.
      idleTimeout: 0,
    });
    return Promise.resolve({
      hostname: server.hostname,
      port: server.port,
      close: () => server.stop(),
    });
  },
});
