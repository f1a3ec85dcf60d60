/** Stores for tests that run the same checks on each kind, closed by `await using`. */
import { MemoryStore, type MessageStore } from "../mod.ts";
import type { MemoryStoreOptions } from "../src/store/memory.ts";
import { RedisStore, type RedisStoreOptions } from "../src/store/redis.ts";
import { type RedisServer, startRedisServer } from "./redis_server.ts";

/** A store, and whatever runs it, disposed together. */
export interface StoreFixture extends AsyncDisposable {
  readonly store: MessageStore;
}

/** The options both stores take. */
export type SharedStoreOptions = MemoryStoreOptions & RedisStoreOptions;

/** A fresh in-memory store. */
export function memoryFixture(options: SharedStoreOptions = {}): Promise<StoreFixture> {
  const store = new MemoryStore(options);
  return Promise.resolve({ store, [Symbol.asyncDispose]: () => store.close() });
}

/** A RedisStore on its own fresh redis-server. */
export async function redisFixture(options: SharedStoreOptions = {}): Promise<StoreFixture> {
  const server = await startRedisServer();
  try {
    const store = await connectStore(server, options);
    return {
      store,
      async [Symbol.asyncDispose]() {
        await store.close();
        await server[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/**
 * A RedisStore on `server`, connected and subscribed; `await using` closes it.
 * Its command deadline is 10 s unless `options` say otherwise: on a machine
 * busy with the whole suite, a command (a script moving megabytes, say) can
 * take longer than the store's default 1.5 s, and only the deadline tests
 * are about that default (they make their own store).
 */
export async function connectStore(
  server: RedisServer,
  options: RedisStoreOptions = {},
): Promise<RedisStore> {
  const store = new RedisStore({ url: server.url, commandTimeoutMs: 10_000, ...options });
  if (!await store.whenReady(5000)) {
    await store.close();
    throw new Error(`Cannot connect a RedisStore to ${server.url} within 5 s`);
  }
  return store;
}
