/**
 * Messages too large to hand out (`maxMessageBytes`) are set aside, and a
 * batch stops before the message that would take it over the cap: on both
 * stores, by pop, batch and lease. In Redis the size is checked there, so
 * such a message never crosses the network.
 */
import assert from "node:assert/strict";
import { MemoryStore, type MessageStore } from "../mod.ts";
import { byteLengthOf, type SetAside } from "../src/store/message_limits.ts";
import { Prng } from "../testing/prng.ts";
import { type RedisStore, sideKey } from "../src/store/redis.ts";
import { redisTest } from "../testing/redis_gate.ts";
import {
  connectStore,
  memoryFixture,
  redisFixture,
  type SharedStoreOptions,
  type StoreFixture,
} from "../testing/store_fixtures.ts";
import { startRedisServer } from "../testing/redis_server.ts";
import { waitUntil } from "../testing/wait_until.ts";

const BIG = "x".repeat(11);

function sizeSuite(
  kind: string,
  open: (options: SharedStoreOptions) => Promise<StoreFixture>,
  wrap: typeof redisTest,
): void {
  const setUp = async () => {
    const asides: SetAside[] = [];
    const fixture = await open({ maxMessageBytes: 10, onSetAside: (aside) => asides.push(aside) });
    return { fixture, store: fixture.store, asides };
  };
  Deno.test(wrap(`${kind}: a message too large is set aside, and the queue goes on`, async () => {
    const { fixture, store, asides } = await setUp();
    await using _fixture = fixture;
    for (const message of [BIG, "fits", BIG, "ten bytes!"]) await store.publish("big", message);
    assert.equal(await store.pop("big"), "fits");
    const lease = await store.take("big", { leaseMs: 1000, now: 0, id: "a" });
    assert.equal(lease?.message, "ten bytes!");
    assert.equal(await store.pop("big"), null);
    await waitUntil(() => asides.length === 2, { what: "both set aside reported" });
    assert.deepEqual(asides.map(({ uid, reason, bytes }) => [uid, reason, bytes]), [
      ["big", "too large", 11],
      ["big", "too large", 11],
    ]);
    assert.match(asides[0].hash, /^[0-9a-f]{12}$/);
    assert.deepEqual(await asideOf(store, "big"), [BIG, BIG]);
  }));
  Deno.test(wrap(`${kind}: a batch stops before the message that would pass the cap`, async () => {
    const { fixture, store } = await setUp();
    await using _fixture = fixture;
    for (const message of ["1234", "5678", "9", "abcdefghij", "k"]) {
      await store.publish("batch", message);
    }
    assert.deepEqual(await store.popMany("batch", 8), ["1234", "5678", "9"], "9 bytes, not 19");
    const lease = await store.take("batch", { leaseMs: 1000, now: 0, id: "a", count: 8 });
    assert.deepEqual(lease?.batch, ["abcdefghij"], "the first always goes, if it fits alone");
    assert.deepEqual(await store.popMany("batch", 8), ["k"]);
  }));
}

/** The messages set aside for `uid`, as text. */
async function asideOf(store: MessageStore, uid: string): Promise<string[]> {
  if (store instanceof MemoryStore) return store.asideOf(uid);
  return (await (store as RedisStore).asideOf(uid)).map((bytes) => new TextDecoder().decode(bytes));
}

sizeSuite("memory", memoryFixture, (name, fn) => ({ name, fn }));
sizeSuite("redis", redisFixture, redisTest);

Deno.test(redisTest("redis: a message too large never leaves Redis in a batch", async () => {
  await using redis = await startRedisServer();
  await using store = await connectStore(redis, { maxMessageBytes: 1024 * 1024 });
  await store.publish("huge", "y".repeat(10 * 1024 * 1024));
  await store.publish("huge", "small");
  const sent = async () => {
    const stats = await redis.cli("INFO", "stats");
    return Number(/total_net_output_bytes:(\d+)/.exec(stats)![1]);
  };
  const before = await sent();
  assert.deepEqual(await store.popMany("huge", 8), ["small"]);
  const bytes = await sent() - before;
  assert.ok(bytes < 64 * 1024, `Redis sent ${bytes} bytes for the pop`);
  assert.equal(await redis.cli("LLEN", sideKey("Q/MSGhuge", "aside")), "1");
}));

Deno.test("message size: a message's UTF-8 length is counted as the encoder writes it, lone surrogates too", () => {
  const encoder = new TextEncoder();
  const fixed = [
    "",
    "a",
    "é",
    "€",
    "🎉",
    "a🎉b",
    "\ud800",
    "\udc00",
    "\ud800a",
    "a\udbff",
    "\udc00\ud800",
  ];
  const rng = new Prng(0xb17e);
  const random = Array.from({ length: 5_000 }, () =>
    Array.from(
      { length: rng.int(12) },
      () => String.fromCharCode(rng.chance(0.5) ? rng.int(0x100) : rng.int(0x10000)),
    ).join(""));
  for (const message of [...fixed, ...random]) {
    assert.equal(byteLengthOf(message), encoder.encode(message).length, JSON.stringify(message));
  }
});
