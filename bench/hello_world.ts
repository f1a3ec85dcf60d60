/**
 * Deno's own hello-world server, the ceiling of the hit scenario.
 * Usage: `deno run --allow-net bench/hello_world.ts <port>`.
 *
 * @module
 */

if (import.meta.main) {
  const port = Number(Deno.args[0]);
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: () => console.log(`hello world listening on http://127.0.0.1:${port}`),
  }, () => new Response("Hello, world"));
}
