/**
 * The floor of a hit on Deno: `Deno.serve` and node-redis, one `RPOP` per
 * request and nothing else (no validation, no metrics, no headers beyond
 * the default, no deadline, no wake watch). What ours does on top of this
 * is the cost of the product; what this does below hello world is the cost
 * of one Redis round trip through node-redis on `Deno.serve`.
 * Usage: `deno run --allow-net --allow-env --allow-read --allow-sys bench/bare_pop.ts <port> <redis port>`.
 *
 * @module
 */
import { createClient } from "redis";

if (import.meta.main) {
  const port = Number(Deno.args[0]);
  const redis = createClient({ url: `redis://127.0.0.1:${Deno.args[1]}` });
  await redis.connect();
  Deno.serve({
    hostname: "127.0.0.1",
    port,
    onListen: () => console.log(`bare pop listening on http://127.0.0.1:${port}`),
  }, async (request) => {
    const url = request.url;
    const message = await redis.rPop(`Q/MSG${url.slice(url.indexOf("uid=") + 4)}`);
    return new Response(message, { status: message === null ? 404 : 200 });
  });
}
