/**
 * The floor of a hit on each runtime: the runtime's own server (see
 * `bare_listen.ts`) and node-redis, one `RPOP` per request and nothing else
 * (no validation, no metrics, no headers beyond the default, no deadline,
 * no wake watch, no per-command timeout). What ours does on top of this is
 * the cost of the product; what this does below hello world is the cost of
 * one Redis round trip through node-redis on that server.
 * Usage: `deno run --allow-net --allow-env --allow-read --allow-sys bench/bare_pop.ts <port> <redis port>`
 * (Bun and Node: the bundle of it).
 *
 * @module
 */
import { createClient } from "redis";
import { listenBare, portArgs } from "./bare_listen.ts";

// Node 20 has no `import.meta.main`: there the bundle runs as the main script.
if (import.meta.main !== false) {
  const [port, redisPort] = portArgs();
  // node-redis gives each command a 5 s timeout by default, an
  // `AbortSignal.timeout` apiece: a quarter of this floor's CPU on Deno in
  // a profile. Ours turns it off (its store keeps one deadline timer for
  // all commands), so the floor does too.
  const redis = createClient({
    url: `redis://127.0.0.1:${redisPort}`,
    commandOptions: { timeout: 0 },
  });
  await redis.connect();
  await listenBare(port, async (request) => {
    const url = request.url;
    const message = await redis.rPop(`Q/MSG${url.slice(url.indexOf("uid=") + 4)}`);
    return new Response(message, { status: message === null ? 404 : 200 });
  }, "bare pop");
}
