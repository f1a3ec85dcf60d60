/** Stores for tests that run the same checks on each kind, closed by `await using`. */
import { MemoryStore, type MessageStore } from "../mod.ts";
import { connectStore, startRedisServer } from "./_redis_server.ts";

/** A store, and whatever runs it, disposed together. */
export interface StoreFixture extends AsyncDisposable {
  readonly store: MessageStore;
}

/** A fresh in-memory store. */
export function memoryFixture(): Promise<StoreFixture> {
  const store = new MemoryStore();
  return Promise.resolve({ store, [Symbol.asyncDispose]: () => store.close() });
}

/** A RedisStore on its own fresh redis-server. */
export async function redisFixture(): Promise<StoreFixture> {
  const server = await startRedisServer();
  try {
    const store = await connectStore(server);
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
