/**
 * Stream delivery's store contract, every store: the same checks of
 * `readStream` (order, every reader gets every entry, from now, from the
 * start, count, the reset rule, expiry, bad cursors) run against the
 * MemoryStore, the RedisStore on a real redis-server, and on a 3-master
 * Redis Cluster; then what only Redis has: plain LPUSH producers, several
 * processes moving at once, the bounds on a real server.
 */
import assert from "node:assert/strict";
import { MemoryStore, type MessageStore, type SetAside, type StreamRead } from "../mod.ts";
import type { HistoryOptions } from "../src/store/history_options.ts";
import { compareStreamIds, parseStreamId } from "../src/stream_id.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import { Buffer } from "node:buffer";
import { createClient } from "redis";
import { RedisStore, sideKey } from "../src/store/redis.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { startRedisCluster, startRedisServer } from "../testing/redis_server.ts";
import {
  connectStore,
  memoryFixture,
  redisFixture,
  type SharedStoreOptions,
  type StoreFixture,
} from "../testing/store_fixtures.ts";

/** What a check is given: a store made with `history`, and what it set aside. */
interface StreamCase {
  readonly store: MessageStore;
  readonly setAside: readonly SetAside[];
}

/** A check, and the store options it needs beyond the default history. */
interface StreamCheck {
  readonly name: string;
  readonly history?: HistoryOptions;
  readonly maxMessageBytes?: number;
  readonly check: (test: StreamCase) => Promise<void>;
}

const HISTORY: HistoryOptions = { max: 5, ttlSeconds: 60 };
const BAD_CURSOR =
  'Cannot read "after": expected a stream id such as "1733300000000-0", or 0 for the start';

/** `store.readStream`, which a store made with a history has. */
function read(store: MessageStore, after: string | undefined, count = 100): Promise<StreamRead> {
  assert.ok(store.readStream !== undefined, "a store made with a history reads streams");
  return store.readStream("u", { after, count });
}

async function publishAll(store: MessageStore, messages: readonly string[]): Promise<void> {
  for (const message of messages) await store.publish("u", message);
}

/** The messages of `read`, checking that its ids grow and `next` is the last one. */
function messagesOf(read: StreamRead): string[] {
  const ids = read.entries.map((entry) => parseStreamId(entry.id, "id"));
  for (let i = 1; i < ids.length; i++) {
    assert.ok(compareStreamIds(ids[i - 1], ids[i]) < 0, `ids grow: ${read.entries[i].id}`);
  }
  if (read.entries.length > 0) assert.equal(read.next, read.entries.at(-1)!.id);
  assert.equal(read.reset, false);
  return read.entries.map((entry) => entry.message);
}

/** Resolves once a watcher of "u" is woken, or rejects after `ms`. */
function woken(store: MessageStore, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const waiter = {
      wake() {
        clearTimeout(timer);
        store.unwatch("u", waiter);
        resolve();
      },
    };
    const timer = setTimeout(() => {
      store.unwatch("u", waiter);
      reject(new Error(`not woken within ${ms} ms`));
    }, ms);
    store.watch("u", waiter);
  });
}

/** The contract: each check runs on a fresh store of each kind. */
const STREAM_CONTRACT: readonly StreamCheck[] = [
  {
    name: "entries come in the order published, with growing ids, from 0-0",
    async check({ store }) {
      await publishAll(store, ["1", '{"two":2}', "3"]);
      const all = await read(store, "0-0");
      assert.deepEqual(messagesOf(all), ["1", '{"two":2}', "3"]);
      assert.deepEqual(await read(store, "0"), all, 'before any trim, "0" reads as "0-0"');
    },
  },
  {
    name: "reading consumes nothing: every reader gets every entry",
    async check({ store }) {
      await publishAll(store, ["a", "b"]);
      const [first, second] = await Promise.all([read(store, "0-0"), read(store, "0-0")]);
      assert.deepEqual(messagesOf(first), ["a", "b"]);
      assert.deepEqual(second, first);
      assert.deepEqual(messagesOf(await read(store, "0-0")), ["a", "b"]);
      assert.equal(await store.pop("u"), null, "nothing waits in the queue");
    },
  },
  {
    name: "no cursor reads from now: nothing, and the newest id to read on from",
    async check({ store }) {
      assert.deepEqual(await read(store, undefined), { entries: [], next: "0-0", reset: false });
      await publishAll(store, ["old"]);
      const now = await read(store, undefined);
      assert.deepEqual([now.entries, now.reset], [[], false]);
      assert.deepEqual(messagesOf(await read(store, "0-0")).length, 1);
      assert.equal(now.next, (await read(store, "0-0")).next, "next is the newest id");
      await publishAll(store, ["new"]);
      assert.deepEqual(messagesOf(await read(store, now.next)), ["new"]);
    },
  },
  {
    name: "an empty history read from the start gives nothing, no reset",
    async check({ store }) {
      assert.deepEqual(await read(store, "0-0"), { entries: [], next: "0-0", reset: false });
      assert.deepEqual(await read(store, "0"), { entries: [], next: "0-0", reset: false });
    },
  },
  {
    name: "once entries were trimmed, 0 still reads all that is kept, while 0-0 is a reset",
    history: { max: 2, ttlSeconds: 600 },
    async check({ store }) {
      await publishAll(store, ["1", "2", "3"]);
      const kept = await read(store, "0");
      assert.deepEqual([messagesOf(kept), kept.reset], [["2", "3"], false]);
      const before = await read(store, "0-0");
      assert.deepEqual(before, { entries: [], next: kept.next, reset: true });
    },
  },
  {
    name: "count bounds a read; next reads on from the last entry",
    async check({ store }) {
      await publishAll(store, ["1", "2", "3", "4"]);
      const first = await read(store, "0-0", 3);
      assert.deepEqual(messagesOf(first), ["1", "2", "3"]);
      const rest = await read(store, first.next, 3);
      assert.deepEqual(messagesOf(rest), ["4"]);
      assert.deepEqual(await read(store, rest.next, 3), {
        entries: [],
        next: rest.next,
        reset: false,
      });
      await assert.rejects(read(store, "0-0", 0), RangeError);
    },
  },
  {
    name: "the newest id is never a reset, nor any id kept",
    async check({ store }) {
      await publishAll(store, ["1", "2", "3"]);
      const all = await read(store, "0-0");
      for (const [index, entry] of all.entries.entries()) {
        const after = await read(store, entry.id);
        assert.deepEqual(messagesOf(after), ["1", "2", "3"].slice(index + 1), entry.id);
        assert.equal(after.next, all.next);
      }
    },
  },
  {
    name: "a cursor older than what is kept is a reset: nothing, and the newest id",
    async check({ store }) {
      await publishAll(store, ["1", "2"]);
      const [first, second] = (await read(store, "0-0")).entries;
      await publishAll(store, ["3", "4", "5", "6", "7"]);
      const kept = await read(store, second.id);
      assert.deepEqual(
        messagesOf(kept),
        ["3", "4", "5", "6", "7"],
        "the newest 5 are kept; a cursor at the newest entry dropped missed nothing",
      );
      const reset = { entries: [], next: kept.next, reset: true };
      assert.deepEqual(await read(store, first.id), reset);
      assert.deepEqual(await read(store, "0-0"), reset, "the start is older than what is kept");
    },
  },
  {
    name: "a cursor newer than the newest id is a reset, with or without a history",
    async check({ store }) {
      const future = "9999999999999-0";
      assert.deepEqual(await read(store, future), { entries: [], next: "0-0", reset: true });
      await publishAll(store, ["1"]);
      const newest = (await read(store, undefined)).next;
      assert.deepEqual(await read(store, future), { entries: [], next: newest, reset: true });
      const [ms, seq] = newest.split("-").map(Number);
      const justAfter = `${ms}-${seq + 1}`;
      assert.deepEqual(await read(store, justAfter), { entries: [], next: newest, reset: true });
    },
  },
  {
    name: "a history expires ttlSeconds after its last message; an old cursor is then a reset",
    history: { max: 5, ttlSeconds: 1 },
    async check({ store }) {
      await publishAll(store, ["1"]);
      const { next } = await read(store, undefined);
      await sleep(2_100);
      assert.deepEqual(await read(store, "0-0"), { entries: [], next: "0-0", reset: false });
      assert.deepEqual(await read(store, next), { entries: [], next: "0-0", reset: true });
      await publishAll(store, ["2"]);
      const again = await read(store, "0-0");
      assert.deepEqual(messagesOf(again), ["2"]);
      assert.deepEqual(
        await read(store, next),
        { entries: [], next: again.next, reset: true },
        "a cursor of the expired history is a reset on the new one",
      );
    },
  },
  {
    name: "a bad cursor is refused with a TypeError and changes nothing",
    async check({ store }) {
      await publishAll(store, ["kept"]);
      const bad = [
        "",
        "abc",
        "1",
        "1-",
        "-1",
        "01-1",
        "1-01",
        "1-2-3",
        " 1-2",
        "+1-2",
        "1.5-2",
        "1234567890123456-0",
        "0-1234567890123456",
      ];
      for (const after of bad) {
        await assert.rejects(read(store, after), { name: "TypeError", message: BAD_CURSOR }, after);
      }
      assert.deepEqual(messagesOf(await read(store, "0-0")), ["kept"]);
    },
  },
  {
    name: "uids don't share histories",
    async check({ store }) {
      await store.publish("other", "for other");
      assert.deepEqual(await read(store, "0-0"), { entries: [], next: "0-0", reset: false });
      const other = await store.readStream!("other", { after: "0-0", count: 10 });
      assert.deepEqual(messagesOf(other), ["for other"]);
    },
  },
  {
    name: "a publish wakes the uid's watchers, and what they read keeps every character",
    async check({ store }) {
      const message = '{"text":"héllo \u2028 </script> 🎉","n":[1,2]}';
      const wake = woken(store, 2_000);
      await store.publish("u", message);
      await wake;
      assert.deepEqual(messagesOf(await read(store, "0-0")), [message]);
    },
  },
  {
    name: "a message over maxMessageBytes is set aside, never in the history",
    maxMessageBytes: 8,
    async check({ store, setAside }) {
      await publishAll(store, ["small", "x".repeat(9), "nxt"]);
      assert.deepEqual(messagesOf(await read(store, "0-0")), ["small", "nxt"]);
      await waitUntil(() => setAside.length > 0, { what: "the message set aside to be reported" });
      assert.deepEqual(setAside.map((aside) => [aside.reason, aside.bytes]), [["too large", 9]]);
    },
  },
  {
    name: "a read's messages add up to at most maxMessageBytes, the first always goes",
    maxMessageBytes: 8,
    async check({ store }) {
      await publishAll(store, ["12345", "678", "9", "abcdefgh"]);
      const first = await read(store, "0-0");
      assert.deepEqual(messagesOf(first), ["12345", "678"]);
      const second = await read(store, first.next);
      assert.deepEqual(messagesOf(second), ["9"]);
      assert.deepEqual(messagesOf(await read(store, second.next)), ["abcdefgh"]);
    },
  },
];

/** The store options of `check`, telling `setAside` of each message set aside. */
function optionsOf(check: StreamCheck, setAside: SetAside[]): SharedStoreOptions {
  return {
    history: check.history ?? HISTORY,
    maxMessageBytes: check.maxMessageBytes,
    onSetAside: (aside) => setAside.push(aside),
  };
}

/** Runs every check of the contract on stores `open` makes, as tests named after `kind`. */
function defineStreamContract(
  kind: string,
  open: (options: SharedStoreOptions) => Promise<StoreFixture>,
  wrap: (name: string, fn: () => Promise<void>) => Deno.TestDefinition,
): void {
  for (const check of STREAM_CONTRACT) {
    Deno.test(wrap(`${kind} store, stream: ${check.name}`, async () => {
      const setAside: SetAside[] = [];
      await using fixture = await open(optionsOf(check, setAside));
      await check.check({ store: fixture.store, setAside });
    }));
  }
}

defineStreamContract("memory", memoryFixture, (name, fn) => ({ name, fn }));
defineStreamContract("redis", redisFixture, redisTest);

// One cluster for the whole contract (creating one takes seconds); each
// check gets its own store and key prefix.
Deno.test(redisTest("redis cluster store, stream: the contract, on 3 masters", async () => {
  await using cluster = await startRedisCluster();
  for (const [index, check] of STREAM_CONTRACT.entries()) {
    const setAside: SetAside[] = [];
    const options = optionsOf(check, setAside);
    const store = new RedisStore({ nodes: cluster.urls, keyPrefix: `s${index}:`, ...options });
    try {
      assert.equal(await store.whenReady(10_000), true, `${check.name}: ready`);
      await check.check({ store, setAside });
    } catch (error) {
      throw new Error(`redis cluster store, stream: ${check.name}: ${(error as Error).message}`, {
        cause: error,
      });
    } finally {
      await store.close();
    }
  }
}));

Deno.test("memory store, stream: ids grow strictly while the clock stands still or goes back", async () => {
  let now = 5_000;
  await using store = new MemoryStore({ history: HISTORY, now: () => now });
  await store.publish("u", "a");
  await store.publish("u", "b");
  now = 4_000;
  await store.publish("u", "c");
  now = 6_000;
  await store.publish("u", "d");
  const ids = (await read(store, "0-0")).entries.map((entry) => entry.id);
  assert.deepEqual(ids, ["5000-0", "5000-1", "5000-2", "6000-0"]);
});

Deno.test("memory store, stream: the history expires by the store's clock, after its last message", async () => {
  let now = 1_000;
  await using store = new MemoryStore({ history: { max: 5, ttlSeconds: 10 }, now: () => now });
  await store.publish("u", "a");
  now = 9_000;
  await store.publish("u", "b");
  now = 18_999;
  assert.deepEqual(messagesOf(await read(store, "0-0")), ["a", "b"], "10 s after the last one");
  now = 19_000;
  assert.deepEqual(await read(store, "0-0"), { entries: [], next: "0-0", reset: false });
});

Deno.test("memory store, stream: 10,000 publishes keep max entries, read in order", async () => {
  const history = { max: 100, ttlSeconds: 60 };
  await using store = new MemoryStore({ history, now: () => 1_000 });
  const before = await read(store, undefined);
  for (let i = 0; i < 10_000; i++) await store.publish("u", String(i));
  const kept = await read(store, "1000-9899", 1_000);
  const expected = Array.from({ length: 100 }, (_, i) => String(9_900 + i));
  assert.deepEqual(messagesOf(kept), expected);
  assert.equal(kept.entries[0].id, "1000-9900");
  assert.equal((await read(store, "1000-9898")).reset, true);
  assert.equal(before.next, "0-0");
  assert.equal((await read(store, before.next)).reset, true, "the start is gone: a reset");
});

Deno.test("memory store: without a history there is no readStream, and bad histories are refused", async () => {
  await using plain = new MemoryStore();
  assert.equal(plain.readStream, undefined);
  await plain.publish("u", "queued");
  assert.equal(await plain.pop("u"), "queued", "queue mode is unchanged");
  const cases: [HistoryOptions, string][] = [
    [{ max: 0, ttlSeconds: 1 }, '"history.max" must be a whole number from 1 to 1000000, got 0'],
    [{ max: 1_000_001, ttlSeconds: 1 }, '"history.max" must be a whole number from 1 to 1000000'],
    [{ max: 1.5, ttlSeconds: 1 }, '"history.max" must be a whole number from 1 to 1000000'],
    [{ max: 1, ttlSeconds: 0 }, '"history.ttlSeconds" must be a whole number from 1 to 31536000'],
    [{ max: 1, ttlSeconds: 31_536_001 }, '"history.ttlSeconds" must be a whole number'],
  ];
  for (const [history, message] of cases) {
    assert.throws(() => new MemoryStore({ history }), (error) => {
      assert.ok(error instanceof RangeError);
      assert.ok(error.message.startsWith(`Cannot create MemoryStore: ${message}`), error.message);
      return true;
    });
  }
});

Deno.test("memory store, stream: a closed store refuses to read", async () => {
  const store = new MemoryStore({ history: HISTORY });
  await store.close();
  await assert.rejects(read(store, "0-0"), /Cannot read: the memory store is closed/);
});

/** The messages kept in the history at `key`, read with XRANGE. */
async function keptIn(client: { xRange: ReturnType<typeof createClient>["xRange"] }, key: string) {
  return (await client.xRange(key, "-", "+") ?? []).map((entry) => entry.message.m);
}

/** A plain Redis client, as producers use, closed by `await using`. */
async function producerOf(url: string) {
  const client = await createClient({ url }).connect();
  return Object.assign(client, { [Symbol.asyncDispose]: () => client.close() });
}

Deno.test(
  redisTest(
    "redis store, stream: a plain LPUSH is moved by the next read, and gone from the list",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      await using store = await connectStore(redis, { history: HISTORY, notifications: "off" });
      await using producer = await producerOf(redis.url);
      await producer.lPush("Q/MSGu", ["1", "2"]);
      await producer.lPush("Q/MSGu", "3");
      assert.deepEqual(messagesOf(await read(store, "0-0")), ["1", "2", "3"]);
      assert.equal(await producer.lLen("Q/MSGu"), 0);
      assert.equal(await producer.xLen(sideKey("Q/MSGu", "history")), 3);
      assert.equal(await producer.exists(sideKey("Q/MSGu", "history-floor")), 0, "nothing lost");
    },
  ),
);

Deno.test(
  redisTest(
    "redis store, stream: a push nobody here reads is moved at once, bounded by max",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      await using _mover = await connectStore(redis, { history: { max: 3, ttlSeconds: 60 } });
      await using producer = await producerOf(redis.url);
      for (let i = 1; i <= 5; i++) await producer.lPush("Q/MSGaway", String(i));
      const history = sideKey("Q/MSGaway", "history");
      await waitUntil(async () => await producer.lLen("Q/MSGaway") === 0, {
        what: "the store to move the pushes it heard",
      });
      assert.equal(await producer.xLen(history), 3);
      assert.ok(await producer.ttl(history) > 0, "the history expires");
      assert.deepEqual(await keptIn(producer, history), ["3", "4", "5"]);
    },
  ),
);

Deno.test(
  redisTest(
    "redis store, stream: 10,000 pushes to one uid with max 100 leave at most 100 entries",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      await using store = await connectStore(redis, { history: { max: 100, ttlSeconds: 60 } });
      await using producer = await producerOf(redis.url);
      const first = await read(store, undefined);
      for (let i = 0; i < 10_000; i += 500) {
        await Promise.all(
          Array.from({ length: 500 }, (_, j) => producer.lPush("Q/MSGu", String(i + j))),
        );
      }
      await read(store, undefined); // moves what the store has not moved yet
      const kept = await keptIn(producer, sideKey("Q/MSGu", "history"));
      const history = sideKey("Q/MSGu", "history");
      assert.ok(await producer.xLen(history) <= 100, `XLEN ${await producer.xLen(history)}`);
      const expected = Array.from({ length: 100 }, (_, i) => String(9_900 + i));
      assert.deepEqual(kept, expected);
      assert.equal(first.next, "0-0");
      assert.equal((await read(store, first.next)).reset, true, "a cursor from before is a reset");
    },
  ),
);

Deno.test(
  redisTest(
    "redis store, stream: HISTORY_TTL removes an idle history, its floor with it",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      await using store = await connectStore(redis, { history: { max: 1, ttlSeconds: 1 } });
      await store.publish("u", "trimmed");
      await store.publish("u", "soon gone");
      const { next } = await read(store, undefined);
      assert.equal((await read(store, "0-0")).reset, true);
      const keys = [sideKey("Q/MSGu", "history"), sideKey("Q/MSGu", "history-floor")];
      assert.equal(await redis.cli("EXISTS", ...keys), "2");
      await waitUntil(async () => await redis.cli("EXISTS", ...keys) === "0", {
        what: "the idle history to expire",
        timeoutMs: 5_000,
      });
      assert.deepEqual(await read(store, next), { entries: [], next: "0-0", reset: true });
    },
  ),
);

Deno.test(
  redisTest(
    "redis store, stream: a message not UTF-8 is set aside, never in the history",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      const setAside: SetAside[] = [];
      await using store = await connectStore(redis, {
        history: { max: 20, ttlSeconds: 60 },
        notifications: "off",
        onSetAside: (aside) => setAside.push(aside),
      });
      await using producer = await producerOf(redis.url);
      const poison = [
        new Uint8Array([0xff]),
        new Uint8Array([0xc0, 0xaf]), // an overlong "/"
        new Uint8Array([0xed, 0xa0, 0x80]), // a surrogate
        new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // past U+10FFFF
        new Uint8Array([0xe2, 0x82]), // cut short
      ];
      await producer.lPush("Q/MSGu", "before");
      for (const bytes of poison) await producer.lPush("Q/MSGu", Buffer.from(bytes));
      await producer.lPush("Q/MSGu", "é🎉 \u2028");
      assert.deepEqual(messagesOf(await read(store, "0-0")), ["before", "é🎉 \u2028"]);
      assert.deepEqual(
        setAside.map((aside) => [aside.reason, aside.bytes]),
        poison.map((bytes) => [
          "not UTF-8",
          bytes.length,
        ]),
      );
      assert.equal((await store.asideOf("u")).length, poison.length);
    },
  ),
);

Deno.test(
  redisTest(
    "redis store, stream: a key of the wrong type is named, and a bad uid refused",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      await using store = await connectStore(redis, { history: HISTORY, notifications: "off" });
      await redis.cli("SET", sideKey("Q/MSGu", "history"), "not a stream");
      await store.publish("u", "kept in the list");
      await assert.rejects(read(store, "0-0"), {
        name: "KeyTypeError",
        message: `Cannot read a stream: "${
          sideKey("Q/MSGu", "history")
        }" holds a string, not a stream`,
      });
      assert.equal(await redis.cli("LLEN", "Q/MSGu"), "1", "nothing is lost");
      await assert.rejects(store.readStream!("a\nb", { after: "0-0", count: 1 }), {
        name: "TypeError",
        message: 'Cannot read a stream: "uid" holds control characters',
      });
    },
  ),
);

Deno.test(
  redisTest(
    "redis store, stream: several stores read every message exactly once and in order while a producer pushes",
    async () => {
      await using redis = await startRedisServer({ persistent: false });
      const stores = await Promise.all(
        Array.from(
          { length: 4 },
          () => connectStore(redis, { history: { max: 10_000, ttlSeconds: 60 } }),
        ),
      );
      try {
        await using producer = await producerOf(redis.url);
        const total = 3_000;
        let done = false;
        // Each store reads as a device does: from its cursor, as often as it can.
        const readers = stores.slice(0, 3).map(async (store) => {
          const got: string[] = [];
          let cursor = "0-0";
          while (got.length < total) {
            const read = await store.readStream!("u", { after: cursor, count: 97 });
            assert.equal(read.reset, false);
            got.push(...read.entries.map((entry) => entry.message));
            cursor = read.next;
            if (read.entries.length === 0 && done) break;
          }
          return got;
        });
        for (let i = 0; i < total; i += 100) {
          await Promise.all(
            Array.from({ length: 100 }, (_, j) => producer.lPush("Q/MSGu", String(i + j))),
          );
        }
        done = true;
        const expected = Array.from({ length: total }, (_, i) => String(i));
        for (const got of await Promise.all(readers)) assert.deepEqual(got, expected);
        assert.equal(await producer.xLen(sideKey("Q/MSGu", "history")), total);
      } finally {
        await Promise.all(stores.map((store) => store.close()));
      }
    },
  ),
);
