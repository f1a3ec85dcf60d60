/**
 * The embedded default, as the module's own example has it: the long-poll
 * handler of `mod.ts` on a `MemoryStore`, served by the runtime's own server
 * (see `bare_listen.ts`). A second listener, the control port, lets the bench
 * reach the store through the library, not through the served handler:
 * `POST /publish?uid=` (a wake), `POST /fill?prefix=&uids=&each=` (tops the
 * lists of the hit scenario up with the body), `GET /lengths?prefix=&uids=` and `GET /held`.
 * Usage: `deno run --allow-net bench/memory_server.ts <port> <control port>`
 * (Bun and Node: the bundle of it).
 *
 * @module
 */
import { createLongPollHandler, type LongPollHandler, MemoryStore } from "../mod.ts";
import { listenBare, portArgs } from "./bare_listen.ts";

/**
 * The control routes over `store` and `handler`; 404 for any other path.
 *
 * @example
 * ```ts
 * import { controlRoutes } from "./memory_server.ts";
 * import { createLongPollHandler, MemoryStore } from "../mod.ts";
 * const store = new MemoryStore();
 * const control = controlRoutes(store, createLongPollHandler({ store }));
 * await control(new Request("http://x/fill?prefix=hit&uids=2&each=3", { method: "POST", body: "m" }));
 * console.log(await (await control(new Request("http://x/lengths?prefix=hit&uids=2"))).json()); // [ 3, 3 ]
 * await store.close();
 * ```
 */
export function controlRoutes(
  store: MemoryStore,
  handler: LongPollHandler,
): (request: Request) => Promise<Response> {
  return async (request) => {
    const url = new URL(request.url);
    const query = url.searchParams;
    switch (url.pathname) {
      case "/publish":
        await store.publish(_text(query, "uid"), await request.text());
        return new Response(null, { status: 202 });
      case "/fill": {
        const uids = _uids(query, _text(query, "prefix"));
        const each = _whole(query, "each");
        const message = await request.text();
        for (const uid of uids) {
          for (let n = store.size(uid); n < each; n++) await store.publish(uid, message);
        }
        return Response.json(uids.map((uid) => store.size(uid)));
      }
      case "/lengths":
        return Response.json(_uids(query, _text(query, "prefix")).map((uid) => store.size(uid)));
      case "/held":
        return Response.json(handler.held);
      default:
        return new Response(`Cannot find "${url.pathname}"`, { status: 404 });
    }
  };
}

function _text(query: URLSearchParams, name: string): string {
  const value = query.get(name);
  if (value === null || value === "") throw new Error(`Cannot read "${name}": it is missing`);
  return value;
}

function _whole(query: URLSearchParams, name: string): number {
  const value = Number(_text(query, name));
  if (!Number.isInteger(value) || value < 0) {
    throw new Error(`Cannot read "${name}": expected a whole number, got "${query.get(name)}"`);
  }
  return value;
}

function _uids(query: URLSearchParams, prefix: string): string[] {
  return Array.from({ length: _whole(query, "uids") }, (_, i) => `${prefix}${i}`);
}

// Node 20 has no `import.meta.main`: there the bundle runs as the main script.
if (import.meta.main !== false) {
  const [port, controlPort] = portArgs();
  const store = new MemoryStore();
  const handler = createLongPollHandler({ store });
  const control = controlRoutes(store, handler);
  await listenBare(
    controlPort,
    (request) =>
      control(request).catch((error) => new Response((error as Error).message, { status: 400 })),
    "control",
  );
  await listenBare(port, handler, "embedded memory server");
}
