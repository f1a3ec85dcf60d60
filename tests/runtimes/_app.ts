/**
 * The app every runtime runner serves: the module's own long-poll handler on
 * the Redis store, configured from the environment. It holds no runtime
 * checks; each runner adds only the few lines its runtime needs to listen
 * and to hear SIGTERM.
 *
 * @module
 */
import { createLongPollHandler } from "../../mod.ts";
import { RedisStore } from "../../src/store/redis.ts";

/** A running app: the fetch handler and how to stop it. */
export interface RuntimeApp {
  /**
   * The fetch handler to serve: the long-poll handler, plus `GET /held`,
   * which tells the tests how many polls are held.
   */
  readonly fetch: (request: Request) => Promise<Response>;
  /** Answers every held poll with the stop code, then closes the store. */
  stop(): Promise<void>;
}

/**
 * Opens the Redis store at `REDIS_URL` and creates the handler with
 * `MIN_WAIT` and `MAX_WAIT` (seconds).
 *
 * @example
 * ```ts ignore
 * import { createRuntimeApp } from "./_app.ts";
 * const app = await createRuntimeApp({ REDIS_URL: "redis://127.0.0.1:6379" });
 * Deno.serve(app.fetch);
 * ```
 */
export async function createRuntimeApp(
  env: Readonly<Record<string, string | undefined>>,
): Promise<RuntimeApp> {
  const store = new RedisStore({ url: env.REDIS_URL });
  if (!await store.whenReady(5_000)) {
    throw new Error(`Cannot start: Redis at "${env.REDIS_URL}" did not answer within 5 s`);
  }
  const handler = createLongPollHandler({
    store,
    minWait: Number(env.MIN_WAIT ?? 15),
    maxWait: Number(env.MAX_WAIT ?? 900),
  });
  return {
    fetch(request) {
      if (new URL(request.url).pathname !== "/held") return handler(request);
      return Promise.resolve(Response.json({ held: handler.held }));
    },
    async stop() {
      await handler.drain();
      await store.close();
    },
  };
}
