/**
 * Delivery you can trust: at-least-once mode (acks, leases, redelivery),
 * superseded polls, and the limits, on the in-memory store and on Redis.
 */
import assert from "node:assert/strict";
import {
  createLongPollHandler,
  type LongPollHandler,
  MemoryStore,
  type MessageStore,
} from "../mod.ts";
import { sideKey } from "../src/store/redis.ts";
import { spyOn } from "../testing/spy_store.ts";
import { memoryFixture, redisFixture, type StoreFixture } from "../testing/store_fixtures.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { waitUntil } from "../testing/wait_until.ts";

interface Delivery {
  status: number;
  body: string;
  ack: string | null;
  redelivered: string | null;
}

async function poll(
  handler: LongPollHandler,
  query: string,
  signal?: AbortSignal,
): Promise<Delivery> {
  const response = await handler(new Request(`http://x/?${query}`, { signal }));
  return {
    status: response.status,
    body: await response.text(),
    ack: response.headers.get("x-ack-id"),
    redelivered: response.headers.get("x-redelivered"),
  };
}

/** A handler in at-least-once mode with holds of 50 ms. */
function atLeastOnceHandler(store: MessageStore): LongPollHandler {
  return createLongPollHandler({ store, atLeastOnce: true, minWait: 0.05, maxWait: 0.05 });
}

type StoreFactory = () => Promise<StoreFixture>;

function atLeastOnceSuite(kind: string, open: StoreFactory, wrap: typeof redisTest) {
  Deno.test(
    wrap(
      `${kind}: at-least-once: the next poll acknowledges, and gets the next message`,
      async () => {
        await using fixture = await open();
        const { store } = fixture;
        const handler = atLeastOnceHandler(store);
        await store.publish("1", "first");
        await store.publish("1", "second");
        const a = await poll(handler, "uid=1");
        assert.deepEqual([a.status, a.body, a.redelivered], [200, "first", "false"]);
        assert.match(a.ack!, /^[0-9a-f-]{36}$/);
        const b = await poll(handler, `uid=1&ack=${a.ack}`);
        assert.deepEqual([b.body, b.redelivered], ["second", "false"]);
        const c = await poll(handler, `uid=1&ack=${b.ack}`);
        assert.equal(c.body, '{"stop":1}', "both acknowledged: nothing comes back");
        assert.equal(c.ack, null);
      },
    ),
  );

  Deno.test(
    wrap(
      `${kind}: at-least-once: an unacknowledged message comes again, marked, once its lease runs out`,
      async () => {
        await using fixture = await open();
        const { store } = fixture;
        const handler = createLongPollHandler({
          store,
          atLeastOnce: true,
          lease: 0.2,
          minWait: 5,
          maxWait: 5,
        });
        await store.publish("2", "important");
        await store.publish("2", "next");
        const first = await poll(handler, "uid=2");
        assert.equal(first.body, "important");
        // Not acknowledged: still in flight, so an early poll gets the next one.
        const early = await poll(handler, "uid=2");
        assert.equal(early.body, "next");
        // Held: the lease of "important" runs out and wakes this poll.
        const again = await poll(handler, `uid=2&ack=${early.ack}`);
        assert.deepEqual([again.body, again.redelivered], ["important", "true"]);
        assert.notEqual(again.ack, first.ack, "each delivery has its own id");
        assert.equal(handler.metrics.redelivered, 1);
      },
    ),
  );

  Deno.test(
    wrap(
      `${kind}: at-least-once: a message taken for a client that left comes again at once, marked`,
      async () => {
        await using fixture = await open();
        const store = spyOn(fixture.store);
        const handler = createLongPollHandler({ store, atLeastOnce: true, minWait: 5, maxWait: 5 });
        const client = new AbortController();
        const gone = poll(handler, "uid=3", client.signal);
        await waitUntil(() => handler.held === 1, { what: "the poll to be held" });
        const { paused, release } = store.pauseNextPop();
        await store.publish("3", "kept");
        assert.equal(await paused, "kept", "taken for the poll");
        client.abort();
        release();
        await gone;
        const next = await poll(handler, "uid=3");
        assert.deepEqual([next.body, next.redelivered], ["kept", "true"]);
      },
    ),
  );

  Deno.test(wrap(`${kind}: at-least-once: the delivery id travels through JSONP`, async () => {
    await using fixture = await open();
    const { store } = fixture;
    const handler = atLeastOnceHandler(store);
    await store.publish("4", '{"n":1}');
    const { body, ack } = await poll(handler, "uid=4&jsonCallback=on.msg");
    assert.equal(body, `/**/on.msg({"n":1},{"ack":"${ack}","redelivered":false});`);
  }));

  Deno.test(
    wrap(`${kind}: at-least-once: a malformed ack is refused and loses nothing`, async () => {
      await using fixture = await open();
      const { store } = fixture;
      const handler = createLongPollHandler({ store, atLeastOnce: true });
      await store.publish("5", "kept");
      const bad = await poll(handler, "uid=5&ack=" + encodeURIComponent("x'; DROP"));
      assert.equal(bad.status, 400);
      assert.deepEqual(JSON.parse(bad.body), { error: 'Cannot poll: "ack" is not a delivery id' });
      assert.equal((await poll(handler, "uid=5")).body, "kept");
    }),
  );
}

atLeastOnceSuite("memory", memoryFixture, (name, fn) => ({ name, fn }));
atLeastOnceSuite("redis", redisFixture, redisTest);

Deno.test(
  redisTest("redis: at-least-once keeps the message in Redis until acknowledged", async () => {
    await using server = await startRedisServer();
    await using store = await connectStore(server);
    const handler = atLeastOnceHandler(store);
    await server.cli("LPUSH", "Q/MSG6", "payload");
    const delivered = await poll(handler, "uid=6");
    assert.equal(delivered.body, "payload");
    assert.equal(await server.cli("LLEN", "Q/MSG6"), "0");
    assert.equal(
      await server.cli("HGET", sideKey("Q/MSG6", "inflight"), delivered.ack!),
      "1|payload",
    );
    const deadline = Number(
      await server.cli("ZSCORE", sideKey("Q/MSG6", "leases"), delivered.ack!),
    );
    assert.ok(deadline > Date.now() + 50_000, `a lease of about 60 s: ${deadline}`);
    await poll(handler, `uid=6&ack=${delivered.ack}`);
    assert.equal(
      await server.cli("EXISTS", sideKey("Q/MSG6", "inflight"), sideKey("Q/MSG6", "leases")),
      "0",
    );
  }),
);

Deno.test("a newer poll of the same uid supersedes the older one, which gets 409 (200 through JSONP)", async () => {
  const store = new MemoryStore();
  const handler = createLongPollHandler({ store, minWait: 5, maxWait: 5 });
  const older = poll(handler, "uid=tab&jsonCallback=cb");
  await waitUntil(() => handler.held === 1, { what: "the first poll to be held" });
  const newer = poll(handler, "uid=tab");
  const superseded = await older;
  assert.equal(superseded.status, 200);
  assert.equal(
    superseded.body,
    '/**/cb({"error":"Cannot hold: a newer poll of the same \\"uid\\" took its place","status":409});',
  );
  assert.equal(handler.held, 1);
  await store.publish("tab", "for the newer");
  assert.equal((await newer).body, "for the newer");
  assert.equal(handler.metrics.superseded, 1);
});

Deno.test("maxPollsPerUid lets that many polls of one uid wait together", async () => {
  const store = new MemoryStore();
  const handler = createLongPollHandler({ store, minWait: 5, maxWait: 5, maxPollsPerUid: 2 });
  const first = poll(handler, "uid=two");
  const second = poll(handler, "uid=two");
  await waitUntil(() => handler.held === 2, { what: "both polls to be held" });
  const third = poll(handler, "uid=two");
  assert.equal((await first).status, 409, "the oldest goes");
  await store.publish("two", "a");
  await store.publish("two", "b");
  assert.deepEqual([(await second).body, (await third).body].sort(), ["a", "b"]);
});

Deno.test("maxUidBytes and maxQueryLength are configurable", async () => {
  const store = new MemoryStore();
  await store.publish("abcd", "kept");
  const handler = createLongPollHandler({ store, maxUidBytes: 3, maxQueryLength: 20 });
  const long = await poll(handler, "uid=abcd");
  assert.equal(long.status, 400);
  assert.deepEqual(JSON.parse(long.body), { error: 'Cannot poll: "uid" is longer than 3 bytes' });
  const query = await poll(handler, "uid=a&pad=" + "x".repeat(20));
  assert.equal(query.status, 414);
  assert.deepEqual(JSON.parse(query.body), {
    error: "Cannot poll: the query is longer than 20 characters",
  });
  assert.equal(store.size("abcd"), 1);
});

Deno.test(
  redisTest(
    "redis: an evicted in-flight hash costs only its own messages, never an error",
    async () => {
      await using server = await startRedisServer();
      await using store = await connectStore(server);
      const handler = atLeastOnceHandler(store);
      const inflight = sideKey("Q/MSGev", "inflight");
      for (const message of ["one", "two", "three"]) await store.publish("ev", message);
      const one = await poll(handler, "uid=ev");
      assert.equal(one.body, "one");
      // maxmemory evicts the hash; the lease set stays.
      await server.cli("DEL", inflight);
      const two = await poll(handler, `uid=ev&ack=${one.ack}`);
      assert.deepEqual([two.status, two.body], [200, "two"], "the ack of a vanished entry is fine");
      await server.cli("DEL", inflight);
      // Its lease runs out: "two" went with the hash, and the queue goes on.
      const later = { leaseMs: 60_000, now: Date.now() + 120_000, id: "later" };
      assert.equal((await store.take("ev", later))?.message, "three");
      assert.equal(await server.cli("ZSCORE", sideKey("Q/MSGev", "leases"), two.ack!), "");
      await store.publish("ev", "four");
      const batch = await store.take("ev", { ...later, id: "batch", count: 4, ack: "later" });
      assert.deepEqual(batch?.batch, ["four"]);
    },
  ),
);
