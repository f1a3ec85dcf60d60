/**
 * Bytes in Redis that are not valid UTF-8: refused explicitly, and kept in
 * Redis byte for byte, first in line, whether popped, taken, or popped too
 * late and pushed back.
 */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createClient, RESP_TYPES } from "redis";
import { createLongPollHandler } from "../mod.ts";
import { MessageEncodingError } from "../src/store/errors.ts";
import { sideKey } from "../src/store/redis.ts";
import { connectStore } from "./_store_fixtures.ts";
import { redisTest } from "./_redis_gate.ts";
import { startRedisServer } from "./_support/redis_server.ts";
import { waitUntil } from "./_support/wait_until.ts";

/** `{"\xff\xfe"}`: JSON-looking, but not UTF-8. */
const BAD = Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]);
const VALID = '{"ok":"é🎉"}';

async function rawClient(url: string) {
  const client = createClient({ url });
  await client.connect();
  return { client, bytes: client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer }) };
}

Deno.test(
  redisTest("encoding: a pop refuses invalid UTF-8 and keeps the bytes first in line", async () => {
    await using redis = await startRedisServer();
    await using store = await connectStore(redis);
    const { client, bytes } = await rawClient(redis.url);
    try {
      await client.lPush("Q/MSGbin", BAD);
      await client.lPush("Q/MSGbin", VALID);
      const refusal = {
        name: "MessageEncodingError",
        message: 'Cannot deliver: the message of "bin" is not valid UTF-8',
      };
      await assert.rejects(store.pop("bin"), refusal);
      await assert.rejects(store.pop("bin"), refusal, "still first in line");
      assert.deepEqual(await bytes.lRange("Q/MSGbin", 0, -1), [Buffer.from(VALID), BAD]);
      const handler = createLongPollHandler({ store });
      const response = await handler(new Request("http://x/?uid=bin"));
      assert.equal(response.status, 502);
      assert.deepEqual(await response.json(), { error: refusal.message });
      // Once the producer removes it, the valid message behind it comes out.
      await client.rPop("Q/MSGbin");
      assert.equal(await store.pop("bin"), VALID);
    } finally {
      await client.close();
    }
  }),
);

Deno.test(
  redisTest(
    "encoding: a take refuses invalid UTF-8 and keeps it in flight, due at once",
    async () => {
      await using redis = await startRedisServer();
      await using store = await connectStore(redis);
      const { client, bytes } = await rawClient(redis.url);
      try {
        await client.lPush("Q/MSGbin", BAD);
        const options = { leaseMs: 60_000, now: Date.now(), id: "a" };
        await assert.rejects(store.take("bin", options), MessageEncodingError);
        await assert.rejects(store.take("bin", { ...options, id: "b" }), MessageEncodingError);
        const [[id, body]] = Object.entries(
          await bytes.hGetAll(sideKey("Q/MSGbin", "inflight")) as Record<string, Buffer>,
        );
        assert.equal(id, "b");
        assert.deepEqual(body, Buffer.concat([Buffer.from("2|"), BAD]));
      } finally {
        await client.close();
      }
    },
  ),
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
