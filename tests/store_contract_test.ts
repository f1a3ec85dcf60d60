/**
 * One contract, every store: the same tests run against MemoryStore and
 * RedisStore (on a real redis-server).
 */
import assert from "node:assert/strict";
import { type LeasedMessage, MemoryStore, type MessageStore } from "../mod.ts";
import { RedisStore } from "../src/store/redis.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisCluster } from "../testing/redis_server.ts";
import { memoryFixture, redisFixture, type StoreFixture } from "../testing/store_fixtures.ts";

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
  ["take with count leases a batch under one id; due again, it comes back whole", async (store) => {
    for (const message of ["a", '{"b":1}', "c", "d"]) await store.publish("lb", message);
    const options = { leaseMs: 10, now: 1_000, maxInFlight: 16, count: 3 };
    const first = await store.take("lb", { ...options, id: "one" });
    assert.deepEqual(first?.batch, ["a", '{"b":1}', "c"]);
    assert.equal(first?.deliveries, 1);
    const again = await store.take("lb", { ...options, now: 2_000, id: "two" });
    assert.deepEqual([again?.batch, again?.deliveries], [["a", '{"b":1}', "c"], 2]);
    const rest = await store.take("lb", { ...options, now: 2_001, ack: "two", id: "three" });
    assert.deepEqual(rest?.batch, ["d"]);
  }],
  ["popMany takes up to count of the oldest at once, oldest first; none is []", async (store) => {
    assert.deepEqual(await store.popMany("many", 5), []);
    for (const message of ["1", "2", "3", "4"]) await store.publish("many", message);
    assert.deepEqual(await store.popMany("many", 3), ["1", "2", "3"]);
    assert.deepEqual(await store.popMany("many", 3), ["4"]);
    assert.deepEqual(await store.popMany("many", 3), []);
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
  ["at-least-once: at most maxInFlight in flight; expired leases come back in order", async (
    store,
  ) => {
    for (const message of ["1", "2", "3", "4", "5"]) await store.publish("lim", message);
    const take = async (now: number, ack?: string) => {
      const options = { leaseMs: 100, now, id: crypto.randomUUID(), maxInFlight: 3, ack };
      return await store.take("lim", options);
    };
    const bodies = (leases: (LeasedMessage | null)[]) =>
      leases.map((lease) => lease && `${lease.message}#${lease.deliveries}`);
    const first = [await take(0), await take(1), await take(2), await take(3)];
    assert.deepEqual(bodies(first), ["1#1", "2#1", "3#1", null], "the bound holds at 3");
    // All three leases run out: they come again in order, even when taken
    // in the same millisecond, and nothing new is popped.
    const again = [await take(200), await take(200), await take(200), await take(200)];
    assert.deepEqual(bodies(again), ["1#2", "2#2", "3#2", null]);
    // An ack frees a place; an id of an earlier delivery acknowledges nothing.
    assert.deepEqual(bodies([await take(201, again[0]!.id)]), ["4#1"]);
    assert.deepEqual(bodies([await take(202, first[1]!.id)]), [null]);
    // A released lease is due at once, ahead of the running ones.
    await store.release("lim", again[2]!.id);
    const released = await take(203);
    assert.deepEqual(bodies([released]), ["3#3"]);
    // An ack lets the last queued one out.
    const fifth = await take(204, again[1]!.id);
    assert.deepEqual(bodies([fifth]), ["5#1"]);
    assert.equal(await take(205, released!.id), null, "the queue is empty");
    const late = [await take(500), await take(500), await take(500)];
    assert.deepEqual(bodies(late), ["4#2", "5#2", null], "in order, once their leases ran out");
    for (const lease of late.slice(0, 2)) await take(600, lease!.id);
    assert.equal(await take(10_000), null, "nothing left in flight or queued");
  }],
  ["at-least-once: 16 in flight at most by default", async (store) => {
    for (let i = 0; i < 20; i++) await store.publish("dflt", `m${i}`);
    const taken = [];
    for (let i = 0; i < 20; i++) {
      taken.push((await store.take("dflt", { leaseMs: 1000, now: 0, id: `id${i}` }))?.message);
    }
    assert.deepEqual(taken, [...Array.from({ length: 16 }, (_, i) => `m${i}`), ...Array(4)]);
    await assert.rejects(
      store.take("dflt", { leaseMs: 1, now: 0, id: "x", maxInFlight: 0 }),
      { name: "RangeError", message: /"maxInFlight" must be a whole number of at least 1, got 0/ },
    );
  }],
  ["at-least-once: maxInFlight counts messages, and a batch is cut to the room left", async (
    store,
  ) => {
    for (let i = 0; i < 12; i++) await store.publish("room", `m${i}`);
    const options = { leaseMs: 1000, now: 0, maxInFlight: 6, count: 4 };
    const batches = [];
    for (const id of ["a", "b", "c"]) {
      batches.push((await store.take("room", { ...options, id }))?.batch);
    }
    assert.deepEqual(batches, [["m0", "m1", "m2", "m3"], ["m4", "m5"], undefined], "6 in flight");
    const single = await store.take("room", { ...options, count: undefined, id: "d" });
    assert.equal(single, null, "a single take finds no room either");
    const next = await store.take("room", { ...options, ack: "a", id: "e" });
    assert.deepEqual(next?.batch, ["m6", "m7", "m8", "m9"], "the ack of 4 makes room for 4");
    const redelivered = await store.take("room", { ...options, now: 5_000, id: "f" });
    assert.deepEqual(redelivered?.batch, ["m4", "m5"], "a batch due again comes back whole");
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
