/**
 * A free TCP port for a server that a test or the bench is about to start.
 *
 * @module
 */

/**
 * Returns a TCP port that was free on `hostname` a moment ago: the kernel
 * picks it for a listener that is closed at once. Another process may take
 * it before the caller binds it, which on loopback is rare enough.
 *
 * @example
 * ```ts
 * import { freePort } from "./free_port.ts";
 * const port = freePort();
 * console.log(port > 0 && port < 65536); // true
 * ```
 */
export function freePort(hostname = "127.0.0.1"): number {
  const listener = Deno.listen({ hostname, port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Whether something accepts a TCP connection on `port` of 127.0.0.1 now:
 * a server is listening, without sending it a request (a request to a
 * server that holds every request would never come back).
 *
 * @example
 * ```ts
 * import { canConnect, freePort } from "./free_port.ts";
 * console.log(await canConnect(freePort())); // false
 * ```
 */
export async function canConnect(port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    return true;
  } catch {
    return false;
  }
}
