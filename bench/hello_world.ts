/**
 * The runtime's own hello-world server, the ceiling of the hit scenario.
 * Usage: `deno run --allow-net bench/hello_world.ts <port>` (Bun and Node: the bundle of it).
 *
 * @module
 */
import { listenBare, portArgs } from "./bare_listen.ts";

// Node 20 has no `import.meta.main`: there the bundle runs as the main script.
if (import.meta.main !== false) {
  const [port] = portArgs();
  await listenBare(port, () => new Response("Hello, world"), "hello world");
}
