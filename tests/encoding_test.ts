/**
 * Bytes in Redis that are not valid UTF-8: set aside beside the uid's list,
 * byte for byte, and reported once, whether popped or taken, so the queue
 * goes on; popped too late, they are pushed back as they were.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createClient, RESP_TYPES } from "redis";
import { createLongPollHandler } from "../mod.ts";
import { type SetAside, shortHashOf, textOf } from "../src/store/message_limits.ts";
import { type RedisStoreOptions, sideKey } from "../src/store/redis.ts";
import { connectStore } from "../testing/store_fixtures.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { type RedisServer, startRedisServer } from "../testing/redis_server.ts";
import { waitUntil } from "../testing/wait_until.ts";
import { startServe } from "../testing/serve_process.ts";

/** `{"\xff\xfe"}`: JSON-looking, but not UTF-8. */
const BAD = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
/** What the issue pushed: `printf '\xc3\x28' | redis-cli -x LPUSH Q/MSGu`. */
const POISON = Buffer.from([0xc3, 0x28]);
const POISON_HASH = await shortHashOf(POISON);

async function rawClient(url: string) {
  const client = createClient({ url });
  await client.connect();
  return { client, bytes: client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }) };
}

/** A store on `redis` that records what it sets aside. */
async function asideStore(redis: RedisServer, options: RedisStoreOptions = {}) {
  const asides: SetAside[] = [];
  const store = await connectStore(redis, {
    ...options,
    onSetAside: (aside) => asides.push(aside),
  });
  return { store, asides };
}

Deno.test(
  redisTest("encoding: a poll sets invalid UTF-8 aside, reports it once, and goes on", async () => {
    await using redis = await startRedisServer();
    const { store, asides } = await asideStore(redis);
    await using _store = store;
    const { client, bytes } = await rawClient(redis.url);
    try {
      await client.lPush("Q/MSGu", POISON);
      await client.lPush("Q/MSGu", "later");
      const handler = createLongPollHandler({ store });
      const response = await handler(new Request("http://x/?uid=u"));
      assert.deepEqual([response.status, await response.text()], [200, "later"]);
      assert.deepEqual(asides, [{ uid: "u", reason: "not UTF-8", bytes: 2, hash: POISON_HASH }]);
      assert.deepEqual(await store.asideOf("u"), [POISON], "kept byte for byte beside the list");
      const [record] = await client.lRange(sideKey("Q/MSG", "aside-index"), 0, -1);
      assert.deepEqual(
        { ...JSON.parse(record), at: undefined },
        { uid: "u", reason: "not UTF-8", bytes: 2, hash: POISON_HASH, at: undefined },
      );
      // A batch keeps the valid messages around it, in order.
      for (const message of ["a", BAD, "b"]) await client.lPush("Q/MSGm", message);
      assert.deepEqual(await store.popMany("m", 5), ["a", "b"]);
      assert.deepEqual(await bytes.lRange(sideKey("Q/MSGm", "aside"), 0, -1), [BAD]);
      assert.equal(asides.length, 2);
    } finally {
      await client.close();
    }
  }),
);

Deno.test(
  redisTest("encoding: a take sets invalid UTF-8 aside, a batch keeps the rest", async () => {
    await using redis = await startRedisServer();
    const { store, asides } = await asideStore(redis);
    await using _store = store;
    const { client } = await rawClient(redis.url);
    try {
      for (const message of [POISON, "after"]) await client.lPush("Q/MSGt", message);
      const options = { leaseMs: 60_000, now: Date.now(), id: "a" };
      const single = await store.take("t", options);
      assert.deepEqual([single?.message, single?.deliveries], ["after", 1]);
      assert.deepEqual(await store.asideOf("t"), [POISON]);
      for (const message of ["x", BAD, "é", POISON]) await client.lPush("Q/MSGt", message);
      const batch = await store.take("t", { ...options, id: "b", ack: "a", count: 8 });
      assert.deepEqual(batch?.batch, ["x", "é"]);
      assert.deepEqual(JSON.parse(batch!.message), ["x", "é"]);
      // The lease holds the two; due again, they come back as they were.
      const again = await store.take("t", { ...options, id: "c", now: options.now + 120_000 });
      assert.deepEqual([again?.batch, again?.deliveries], [["x", "é"], 2]);
      assert.deepEqual(asides.map((aside) => aside.bytes), [2, 6, 2]);
      assert.equal(
        await redis.cli("HGET", sideKey("Q/MSGt", "inflight"), "#"),
        "1",
        "2 in 1 lease",
      );
    } finally {
      await client.close();
    }
  }),
);

Deno.test(redisTest("encoding: a late pop pushes back the exact bytes", async () => {
  await using redis = await startRedisServer();
  const pushedBack: string[] = [];
  await using store = await connectStore(redis, {
    commandTimeoutMs: 300,
    onPushedBack: (uid) => pushedBack.push(uid),
  });
  const { client, bytes } = await rawClient(redis.url);
  try {
    await client.lPush("Q/MSGlate", BAD);
    await redis.cli("CLIENT", "PAUSE", "600", "WRITE");
    await assert.rejects(store.pop("late"), /did not answer within 300 ms/);
    await waitUntil(() => pushedBack.length === 1, { what: "the push back" });
    assert.deepEqual(await bytes.lRange("Q/MSGlate", 0, -1), [BAD]);
  } finally {
    await client.close();
  }
}));

Deno.test(
  redisTest(
    "encoding: deno task serve logs a message set aside once, by hash, and counts it",
    async () => {
      await using redis = await startRedisServer();
      const { client } = await rawClient(redis.url);
      try {
        await client.lPush("Q/MSGu", POISON);
        await client.lPush("Q/MSGu", "later");
        await using server = await startServe({
          REDIS_URL: redis.url,
          MAX_WAIT: "1",
          MIN_WAIT: "1",
        });
        const first = await fetch(`${server.origin}/?uid=u`);
        assert.deepEqual([first.status, await first.text()], [200, "later"]);
        const metrics = await (await fetch(`${server.origin}/metrics`)).text();
        assert.match(metrics, /^longpoll_set_aside_total 1$/m);
        const lines = server.output().split("\n").filter((line) => line.includes("set aside"));
        assert.equal(lines.length, 1, server.output());
        assert.match(lines[0], new RegExp(`not UTF-8.*bytes=2.*hash=${POISON_HASH}`));
      } finally {
        await client.close();
      }
    },
  ),
);

Deno.test("encoding: a message's text is the same by the short ASCII path and by the decoder", () => {
  const encoder = new TextEncoder();
  for (
    const text of [
      "",
      "hi",
      '{"hit":1}',
      "x".repeat(64),
      "x".repeat(65),
      "é",
      "\ufeffbom",
      "\u0000\u007f",
    ]
  ) {
    assert.equal(textOf(encoder.encode(text)), text);
  }
  for (const bytes of [[0xff], [0x61, 0x80], [0xc3], Array(70).fill(0x61).concat([0xff])]) {
    assert.equal(textOf(new Uint8Array(bytes)), undefined, String(bytes));
  }
});
