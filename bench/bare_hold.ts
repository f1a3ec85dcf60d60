/**
 * The floor of a held poll on each runtime: the runtime's own server (see
 * `bare_listen.ts`) holding every request with an abort listener (how a
 * long-poll learns that its client left) and nothing else, answering only
 * when the client goes. What ours holds per poll above this is the cost of
 * the product.
 * Usage: `deno run --allow-net bench/bare_hold.ts <port>` (Bun and Node: the bundle of it).
 *
 * @module
 */
import { listenBare, portArgs } from "./bare_listen.ts";

/**
 * Holds `request` until its client leaves, then answers 499.
 *
 * @example
 * ```ts
 * import { holdUntilAbort } from "./bare_hold.ts";
 * const controller = new AbortController();
 * const held = holdUntilAbort(new Request("http://x/", { signal: controller.signal }));
 * controller.abort();
 * console.log((await held).status); // 499
 * ```
 */
export function holdUntilAbort(request: Request): Promise<Response> {
  return new Promise((resolve) =>
    request.signal.addEventListener("abort", () => resolve(new Response(null, { status: 499 })))
  );
}

// Node 20 has no `import.meta.main`: there the bundle runs as the main script.
if (import.meta.main !== false) {
  const [port] = portArgs();
  await listenBare(port, holdUntilAbort, "bare hold");
}
