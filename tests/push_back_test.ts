/**
 * A message that a timed-out pop brings back late is put back at the head
 * of its queue, however long Redis refuses it, and counted; only a store
 * closed before Redis takes it back loses it, and says so.
 */
import assert from "node:assert/strict";
import { connectStore } from "../testing/store_fixtures.ts";
import { type RedisServer, startRedisServer } from "../testing/redis_server.ts";
import { redisTest } from "../testing/redis_gate.ts";
import { sleep, waitUntil } from "../testing/wait_until.ts";
import type { RedisStore } from "../src/store/redis.ts";

interface Heard {
  pushedBack: string[];
  lost: { uid: string; message: string; error: string }[];
  warnings: string[];
}

async function storeWithHooks(redis: RedisServer): Promise<{ store: RedisStore; heard: Heard }> {
  const heard: Heard = { pushedBack: [], lost: [], warnings: [] };
  const store = await connectStore(redis, {
    commandTimeoutMs: 300,
    onPushedBack: (uid) => heard.pushedBack.push(uid),
    onLost: (uid, message, error) =>
      heard.lost.push({ uid, message, error: (error as Error).message }),
    onWarning: (warning) => heard.warnings.push(warning),
  });
  return { store, heard };
}

/** Pops `uid` through a write pause, so the pop times out and its RPOP runs after; Redis then refuses writes. */
async function popLateIntoAFullRedis(redis: RedisServer, store: RedisStore, uid: string) {
  await redis.cli("LPUSH", `Q/MSG${uid}`, "precious");
  await redis.cli("CLIENT", "PAUSE", "800", "WRITE");
  await assert.rejects(store.pop(uid), {
    message: "Cannot pop: Redis did not answer within 300 ms",
  });
  await redis.cli("CONFIG", "SET", "maxmemory", "1");
  await waitUntil(async () => (await redis.cli("EXISTS", `Q/MSG${uid}`)) === "0", {
    what: "the late RPOP",
  });
}

Deno.test(
  redisTest("push back: a late message refused by Redis is retried until it is back", async () => {
    await using redis = await startRedisServer();
    const { store, heard } = await storeWithHooks(redis);
    try {
      await popLateIntoAFullRedis(redis, store, "r");
      await sleep(600); // several attempts, each refused
      assert.deepEqual(heard, { pushedBack: [], lost: [], warnings: [] });
      await redis.cli("CONFIG", "SET", "maxmemory", "0");
      await waitUntil(() => heard.pushedBack.length === 1, { what: "the push back" });
      assert.deepEqual(heard.pushedBack, ["r"]);
      assert.equal(await redis.cli("LRANGE", "Q/MSGr", "0", "-1"), "precious");
    } finally {
      await store.close();
    }
  }),
);

Deno.test(
  redisTest("push back: a store closed before Redis takes it back reports it lost", async () => {
    await using redis = await startRedisServer();
    const { store, heard } = await storeWithHooks(redis);
    await popLateIntoAFullRedis(redis, store, "l");
    await store.close();
    assert.deepEqual(heard.pushedBack, []);
    assert.equal(heard.lost.length, 1);
    assert.deepEqual([heard.lost[0].uid, heard.lost[0].message], ["l", "precious"]);
    assert.match(heard.lost[0].error, /OOM/);
    assert.equal(heard.warnings.length, 1);
    assert.match(
      heard.warnings[0],
      /^Cannot push back a message of "l" before closing: Redis failed: OOM .*; it is lost/,
    );
  }),
);
