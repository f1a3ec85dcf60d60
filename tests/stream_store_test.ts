/**
 * Stream delivery's store contract, every store: the same checks of
 * `readStream` (order, every reader gets every entry, from now, from the
 * start, count, the reset rule, expiry, bad cursors) run against the
 * MemoryStore, and the RedisStore on a real redis-server.
 */
import assert from "node:assert/strict";
import { MemoryStore, type MessageStore, type SetAside, type StreamRead } from "../mod.ts";
import type { HistoryOptions } from "../src/store/history_options.ts";
import { compareStreamIds, parseStreamId } from "../src/stream_id.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import { memoryFixture, type StoreFixture } from "../testing/store_fixtures.ts";

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
      assert.deepEqual(await read(store, "0"), all, '"0" is "0-0"');
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
      const kept = await read(store, "0-0");
      assert.deepEqual(messagesOf(kept), ["3", "4", "5", "6", "7"], "the newest 5 are kept");
      assert.deepEqual(await read(store, first.id), { entries: [], next: kept.next, reset: true });
      assert.deepEqual(
        messagesOf(await read(store, second.id)),
        ["3", "4", "5", "6", "7"],
        "a cursor at the newest entry dropped missed nothing",
      );
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

/** Runs every check of the contract on stores `open` makes, as tests named after `kind`. */
function defineStreamContract(
  kind: string,
  open: (options: Parameters<typeof memoryFixture>[0]) => Promise<StoreFixture>,
  wrap: (name: string, fn: () => Promise<void>) => Deno.TestDefinition,
): void {
  for (const { name, history, maxMessageBytes, check } of STREAM_CONTRACT) {
    Deno.test(wrap(`${kind} store, stream: ${name}`, async () => {
      const setAside: SetAside[] = [];
      await using fixture = await open({
        history: history ?? HISTORY,
        maxMessageBytes,
        onSetAside: (aside) => setAside.push(aside),
      });
      await check({ store: fixture.store, setAside });
    }));
  }
}

defineStreamContract("memory", memoryFixture, (name, fn) => ({ name, fn }));

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
  await using store = new MemoryStore({ history: { max: 100, ttlSeconds: 60 } });
  for (let i = 0; i < 10_000; i++) await store.publish("u", String(i));
  const kept = await read(store, "0-0", 1_000);
  const expected = Array.from({ length: 100 }, (_, i) => String(9_900 + i));
  assert.deepEqual(messagesOf(kept), expected);
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
