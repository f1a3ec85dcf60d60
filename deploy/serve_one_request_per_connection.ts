/**
 * One request at a time per connection, for `Deno.serve` (see
 * `serve_deno_listener.ts`).
 *
 * `Deno.serve` speaks HTTP/2 without TLS (h2c, "prior knowledge") on the
 * same port as HTTP/1.1, and HTTP/2 carries many requests at once on one
 * connection: 200 held polls on one TCP connection would pass a connection
 * cap that counts file descriptors. Deno says neither which version a
 * request came in nor lets h2c be turned off, but a connection is known by
 * its peer's address and port, and HTTP/1.1 never has two requests of one
 * connection open at once (pipelined ones are answered in turn). So a
 * request that comes while another of its connection is still open is a
 * second HTTP/2 stream: it gets `505` at once, and the connection counts as
 * one, as HTTP/1.1 does. A request is open until its answer is returned:
 * with `EARLY_HEADERS=true` a held poll's answer is returned at once, so
 * there h2c streams are not bounded by this. Browsers never use h2c, and nginx speaks HTTP/1.1
 * to the processes.
 *
 * @module
 */
import type { ConnectionInfo } from "../src/server/local_request.ts";

/** What `Deno.serve` calls with each request. */
export type ServeHandler = (
  request: Request,
  info: Deno.ServeHandlerInfo<Deno.NetAddr>,
) => Response | Promise<Response>;

/**
 * Wraps `fetch` so that each connection has one request open at a time; a
 * second one at once (an HTTP/2 stream) is answered `505` and never reaches
 * `fetch`.
 *
 * @example
 * ```ts ignore
 * import { oneRequestPerConnection } from "./serve_one_request_per_connection.ts";
 * Deno.serve(oneRequestPerConnection(() => new Response("ok")));
 * ```
 */
export function oneRequestPerConnection(
  fetch: (request: Request, info?: ConnectionInfo) => Response | Promise<Response>,
): ServeHandler {
  const open = new Set<string>();
  return (request, info) => {
    const connection = `${info.remoteAddr.hostname} ${info.remoteAddr.port}`;
    if (open.has(connection)) return _secondStream();
    const answer = fetch(request, info);
    // An answer given at once holds nothing. A held poll's answer comes
    // when its hold ends, and the connection is free again from then: an
    // HTTP/1.1 client sends its next request only once the answer is in.
    // (`info.completed` would also say when, but waiting on it cost this
    // server about 14% of its /healthz rate.)
    if (answer instanceof Response) return answer;
    open.add(connection);
    // One reaction, not `finally`'s three closures: a held poll keeps it until answered.
    const release = () => open.delete(connection);
    answer.then(release, release);
    return answer;
  };
}

function _secondStream(): Response {
  return Response.json({
    error: "Cannot serve two requests at once on one connection: HTTP/2 without TLS (h2c) " +
      "is served one request at a time; use HTTP/1.1",
  }, { status: 505, headers: { "cache-control": "no-store" } });
}
