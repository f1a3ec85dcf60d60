/**
 * Serves a fetch-style handler with the runtime's own server and nothing
 * else: `Deno.serve` on Deno, `Bun.serve` on Bun, `@hono/node-server` on
 * Node (what ours runs on, on each). The reference servers of the bench
 * (hello world, the bare pop, the bare hold, the embedded memory server)
 * listen through it, so that each one runs unchanged on every runtime.
 *
 * @module
 */
import process from "node:process";

/** The part of Bun's API used here. */
declare const Bun: {
  serve(options: {
    fetch: (request: Request) => Response | Promise<Response>;
    hostname: string;
    port: number;
    idleTimeout: number;
  }): unknown;
};

/** A fetch-style handler. */
export type BareHandler = (request: Request) => Response | Promise<Response>;

/**
 * The runtime this runs on: `deno`, `bun` or `node`.
 *
 * @example
 * ```ts
 * import { bareRuntime } from "./bare_listen.ts";
 * console.log(bareRuntime()); // deno
 * ```
 */
export function bareRuntime(): "deno" | "bun" | "node" {
  if ("Bun" in globalThis) return "bun";
  return "Deno" in globalThis ? "deno" : "node";
}

/**
 * Listens on 127.0.0.1:`port` and prints `<label> listening on <origin>`
 * once it does (the bench waits for that line); SIGTERM ends the process. Bun's idle timeout is off,
 * as ours has it, so that a held request is not cut after 10 s.
 *
 * @example
 * ```ts ignore
 * import { listenBare } from "./bare_listen.ts";
 * await listenBare(8080, () => new Response("ok"), "hello world");
 * ```
 */
export async function listenBare(port: number, handler: BareHandler, label: string): Promise<void> {
  const listening = () => console.log(`${label} listening on http://127.0.0.1:${port}`);
  // Exit on SIGTERM rather than be killed by it, so that a profiler
  // (`--cpu-prof`) writes its profile.
  process.on("SIGTERM", () => process.exit(0));
  switch (bareRuntime()) {
    case "deno":
      Deno.serve({ hostname: "127.0.0.1", port, onListen: listening }, handler);
      return;
    case "bun":
      Bun.serve({ fetch: handler, hostname: "127.0.0.1", port, idleTimeout: 0 });
      listening();
      return;
    case "node": {
      const { serve } = await import("@hono/node-server");
      const server = serve({ fetch: handler, hostname: "127.0.0.1", port }, listening);
      // Node closes a keep-alive connection after 5 s of silence; the bench's
      // publisher keeps one open across a whole held step.
      (server as unknown as { keepAliveTimeout: number }).keepAliveTimeout = 0;
      return;
    }
  }
}

/**
 * The port arguments of a reference server: `<port> [<second port>]`, from
 * the command line (`process.argv` after the script) by default.
 *
 * @example
 * ```ts
 * import { portArgs } from "./bare_listen.ts";
 * console.log(portArgs(["8080", "6379"])); // [ 8080, 6379 ]
 * ```
 */
export function portArgs(args: readonly string[] = process.argv.slice(2)): number[] {
  const ports = args.map(Number);
  if (ports.length === 0 || ports.some((port) => !Number.isInteger(port) || port <= 0)) {
    throw new Error(`Cannot read the ports: expected "<port> [<port>]", got "${args.join(" ")}"`);
  }
  return ports;
}
