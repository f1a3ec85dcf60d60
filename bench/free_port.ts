/**
 * Finds a free TCP port on a loopback address.
 *
 * @module
 */

/**
 * Returns a TCP port that was free on `hostname` a moment ago.
 *
 * @example
 * ```ts
 * import { freePort } from "./free_port.ts";
 * console.log(freePort() > 0); // true
 * ```
 */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
