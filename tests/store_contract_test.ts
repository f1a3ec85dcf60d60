/**
 * One contract, every store: the same tests run against MemoryStore and
 * RedisStore (on a real redis-server).
 */
import assert from "node:assert/strict";
import { MemoryStore, type MessageStore } from "../mod.ts";
import { RedisStore } from "../src/store/redis.ts";
import { redisTest } from "./_redis_gate.ts";
import { startRedisCluster } from "./_support/redis_server.ts";
import { memoryFixture, redisFixture, type StoreFixture } from "./_store_fixtures.ts";

type Contract = [string, (store: MessageStore) => Promise<void>];

/** Resolves once `waiter` has been woken, or rejects after `ms`. */
function wokenWithin(store: MessageStore, uid: string, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const waiter = {
      wake() {
        clearTimeout(timer);
        store.unwatch(uid, waiter);
        resolve();
      },
    };
    const timer = setTimeout(() => {
      store.unwatch(uid, waiter);
      reject(new Error(`waiter of "${uid}" not woken within ${ms} ms`));
    }, ms);
    store.watch(uid, waiter);
  });
}

const contract: Contract[] = [
  ["pop on an empty queue gives null", async (store) => {
    assert.equal(await store.pop("nobody"), null);
  }],
  ["messages come out oldest first", async (store) => {
    for (const message of ["1", "2", "3"]) await store.publish("fifo", message);
    assert.deepEqual(
      [await store.pop("fifo"), await store.pop("fifo"), await store.pop("fifo")],
      ["1", "2", "3"],
    );
    assert.equal(await store.pop("fifo"), null);
  }],
  ["pushBack puts a message first in line", async (store) => {
    await store.publish("back", "later");
    await store.pushBack("back", "first");
    assert.equal(await store.pop("back"), "first");
    assert.equal(await store.pop("back"), "later");
  }],
  ["uids don't share queues", async (store) => {
    await store.publish("a", "for a");
    assert.equal(await store.pop("b"), null);
    assert.equal(await store.pop("a"), "for a");
  }],
  ["messages and uids keep every character", async (store) => {
    const uid = "ü/é:42 {x}";
    const message = '{"text":"héllo \u2028 </script> 🎉","n":[1,2]}';
    await store.publish(uid, message);
    assert.equal(await store.pop(uid), message);
  }],
  ["publish wakes a watcher of that uid", async (store) => {
    const woken = wokenWithin(store, "w", 2000);
    await store.publish("w", "x");
    await woken;
    assert.equal(await store.pop("w"), "x");
  }],
  ["pushBack wakes a watcher of that uid", async (store) => {
    const woken = wokenWithin(store, "pb", 2000);
    await store.pushBack("pb", "x");
    await woken;
    assert.equal(await store.pop("pb"), "x");
  }],
  ["unwatch stops the wakes", async (store) => {
    let wakes = 0;
    const waiter = { wake: () => wakes++ };
    store.watch("u", waiter);
    store.unwatch("u", waiter);
    const other = wokenWithin(store, "u", 2000);
    await store.publish("u", "x");
    await other;
    assert.equal(wakes, 0);
  }],
  ["a wake reaches every watcher of the uid", async (store) => {
    const first = wokenWithin(store, "many", 2000);
    const second = wokenWithin(store, "many", 2000);
    await store.publish("many", "x");
    await Promise.all([first, second]);
  }],
  ["the store is ready while open", (store) => {
    assert.equal(store.ready, true);
    return Promise.resolve();
  }],
];

function defineContract(
  kind: string,
  open: () => Promise<StoreFixture>,
  wrap: (name: string, fn: () => Promise<void>) => Deno.TestDefinition,
): void {
  for (const [name, check] of contract) {
    Deno.test(wrap(`${kind} store: ${name}`, async () => {
      await using fixture = await open();
      await check(fixture.store);
    }));
  }
}

defineContract("memory", memoryFixture, (name, fn) => ({ name, fn }));
defineContract("redis", redisFixture, redisTest);

// One cluster for the whole contract (creating one takes seconds); each
// check gets its own store and key prefix.
Deno.test(redisTest("redis cluster store: the contract, on 3 masters", async () => {
  await using cluster = await startRedisCluster();
  for (const [index, [name, check]] of contract.entries()) {
    const store = new RedisStore({ nodes: cluster.urls, keyPrefix: `c${index}:` });
    try {
      assert.equal(await store.whenReady(10_000), true, `${name}: ready`);
      await check(store);
    } catch (error) {
      throw new Error(`redis cluster store: ${name}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await store.close();
    }
  }
}));

Deno.test("memory store: a closed store refuses work and is not ready", async () => {
  const store = new MemoryStore();
  await store.close();
  assert.equal(store.ready, false);
  await assert.rejects(store.pop("x"), /Cannot pop: the memory store is closed/);
  await assert.rejects(store.publish("x", "m"), /Cannot publish: the memory store is closed/);
});
